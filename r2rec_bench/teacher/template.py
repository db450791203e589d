"""The default teacher: offline and deterministic, no model, no network.

Its thought for each step is the planner's template thought (facts about the revealed step:
item attributes, co-interaction counts over the other users, how many items two users share)
and its prediction is the planner's graph-score guess (attribute score when attribute-only),
made from what the step's prompt shows, never from the chain itself.
"""

from __future__ import annotations

from r2rec_bench.teacher.plan import ExamplePlan, Planner
from r2rec_bench.teacher.types import Thought, Trace


class TemplateTeacher:
    name = "template"

    def close(self) -> None:
        """Nothing to release (the language-model teachers hold connections or models)."""

    def run(self, planner: Planner, plans: list[ExamplePlan], progress: bool) -> list[Trace]:
        return [
            Trace(
                example=plan.row,
                chains=plan.chains,
                thoughts=tuple(
                    Thought(
                        *step.written(step.guess),
                        step.edge,
                        step.guess == step.answer,
                        step.kind,
                        len(step.options),
                    )
                    for step in plan.steps
                ),
                attribute_only=plan.attribute_only,
                teacher=self.name,
            )
            for plan in plans
        ]
