"""Resumable training for ``recbole_yardstick.py`` (``--checkpoint-dir``)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch


class Resume:
    """``--checkpoint-dir``: the whole training state after every epoch, so that a run longer
    than one sitting (RecBole's SASRec needs hours of CPU here) continues where it stopped.

    RecBole's own checkpoint cannot do this: it holds the best epoch's weights, not the
    last epoch's optimiser, early-stopping counter and random states. The file names the
    run's settings and dataset fingerprint; resuming under others is refused."""

    def __init__(self, directory: Path | None, name: str, settings: dict) -> None:
        self.path = directory / f"{name}.pt" if directory else None
        self.settings = settings

    def load(self, trainer, train_data) -> dict | None:
        if self.path is None or not self.path.exists():
            return None
        state = torch.load(self.path, weights_only=False)
        if state["settings"] != self.settings:
            print(
                f"{self.path}: written under {state['settings']}, not {self.settings}; "
                "rerun with those settings or another --checkpoint-dir",
                file=sys.stderr,
            )
            sys.exit(2)
        trainer.model.load_state_dict(state["model_state"])
        trainer.optimizer.load_state_dict(state["optimizer_state"])
        # An early-stopped run resumes as finished: only its test scoring is repeated.
        finished = state["cur_step"] > self.settings["stopping_step"]
        trainer.start_epoch = trainer.epochs if finished else len(state["curve"])
        trainer.best_valid_score, trainer.cur_step = state["best_valid_score"], state["cur_step"]
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        if state["rng"]["loader"] is not None:
            train_data.generator.set_state(state["rng"]["loader"])
        return state

    def save(self, trainer, train_data, curve: list, best: dict, seconds: float, cpu: float):
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        generator = getattr(train_data, "generator", None)
        state = {
            "settings": self.settings,
            "curve": curve,
            "best": best,
            "model_state": trainer.model.state_dict(),
            "optimizer_state": trainer.optimizer.state_dict(),
            "best_valid_score": trainer.best_valid_score,
            "cur_step": trainer.cur_step,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
                "loader": generator.get_state() if generator is not None else None,
            },
        }
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)  # never a half-written checkpoint
