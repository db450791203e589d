"""The RecBole yardstick's resumable training (scripts/recbole_resume.py), without RecBole: a
trainer is whatever carries RecBole's fields (model, optimizer, early-stopping state)."""

from __future__ import annotations

import importlib.util
import random
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "recbole_resume.py"
SETTINGS = {"model": "SASRec", "seed": 0, "manifest": "c34d", "stopping_step": 10}


def load_resume():
    spec = importlib.util.spec_from_file_location("recbole_resume", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Resume


def trainer_and_loader(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    trainer = types.SimpleNamespace(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        epochs=300,
        start_epoch=0,
        best_valid_score=-np.inf,
        cur_step=0,
    )
    loader = types.SimpleNamespace(generator=torch.Generator().manual_seed(seed))
    return trainer, loader


def train_step(trainer, loader) -> torch.Tensor:
    order = torch.randperm(8, generator=loader.generator)
    scale = float(np.random.rand()) + random.random()  # every random state RecBole may use
    loss = trainer.model(torch.randn(8, 4)[order[:4]] * scale).pow(2).mean()
    trainer.optimizer.zero_grad()
    loss.backward()
    trainer.optimizer.step()
    return trainer.model.weight.detach().clone()


def test_a_resumed_run_continues_exactly_where_it_stopped(tmp_path):
    resume = load_resume()(tmp_path, "SASRec", SETTINGS)
    trainer, loader = trainer_and_loader(seed=1)
    np.random.seed(1)
    random.seed(1)
    for _ in range(3):
        train_step(trainer, loader)
    trainer.best_valid_score, trainer.cur_step = 0.42, 2
    curve, best = [0.40, 0.42, 0.41], {"hr1": 0.42, "epoch": 2}
    resume.save(trainer, loader, curve, best, seconds=12.0, cpu=10.0)
    uninterrupted = [train_step(trainer, loader) for _ in range(2)]

    fresh, fresh_loader = trainer_and_loader(seed=99)  # different weights and random states
    state = resume.load(fresh, fresh_loader)
    resumed = [train_step(fresh, fresh_loader) for _ in range(2)]

    assert all(torch.equal(a, b) for a, b in zip(uninterrupted, resumed, strict=True))
    assert (fresh.start_epoch, fresh.best_valid_score, fresh.cur_step) == (3, 0.42, 2)
    assert (state["curve"], state["best"], state["seconds"]) == (curve, best, 12.0)
    assert not list(tmp_path.glob("*.partial"))


def test_an_early_stopped_run_resumes_as_finished(tmp_path):
    resume = load_resume()(tmp_path, "SASRec", SETTINGS)
    trainer, loader = trainer_and_loader(seed=1)
    trainer.cur_step = SETTINGS["stopping_step"] + 1
    resume.save(trainer, loader, [0.5] * 20, {"hr1": 0.5, "epoch": 9}, seconds=1.0, cpu=1.0)
    fresh, fresh_loader = trainer_and_loader(seed=2)
    resume.load(fresh, fresh_loader)
    assert fresh.start_epoch == fresh.epochs  # RecBole's fit then trains no further epoch


def test_a_checkpoint_from_other_settings_is_refused(tmp_path, capsys):
    trainer, loader = trainer_and_loader(seed=1)
    load_resume()(tmp_path, "SASRec", SETTINGS).save(trainer, loader, [0.1], {}, 1.0, 1.0)
    other = load_resume()(tmp_path, "SASRec", {**SETTINGS, "seed": 1})
    with pytest.raises(SystemExit) as stop:
        other.load(*trainer_and_loader(seed=1))
    assert stop.value.code == 2
    assert "SASRec.pt" in capsys.readouterr().err
    assert (tmp_path / "SASRec.pt").exists()  # the user's checkpoint is kept


def test_without_a_directory_nothing_is_saved_or_loaded(tmp_path):
    resume = load_resume()(None, "SASRec", SETTINGS)
    trainer, loader = trainer_and_loader(seed=1)
    resume.save(trainer, loader, [0.1], {}, 1.0, 1.0)
    assert resume.load(trainer, loader) is None
