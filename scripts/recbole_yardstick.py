"""RecBole as a yardstick for r2rec-bench's baselines, on the same data and protocol.

Run with the Python of a separate virtual environment that has RecBole (never a dependency
of r2rec-bench; it pins numpy<2):

    python3 -m venv /tmp/recbole-venv
    /tmp/recbole-venv/bin/pip install torch==2.13.0 "numpy<2" "pandas<3" "pyarrow<20" \\
        "scipy<1.12" "setuptools>=77.0.3,<81" recbole==1.2.1
    /tmp/recbole-venv/bin/python scripts/recbole_yardstick.py --dataset out/ml-100k-iot \\
        --out recbole.json

(torch 2.13 needs setuptools>=77.0.3, and RecBole's ray import needs ``pkg_resources``,
which setuptools 81 removed: hence that window rather than the usual ``setuptools<70``.
scipy 1.12 removed the ``dok_matrix._update`` that RecBole's LightGCN calls, and pyarrow 20
needs numpy 2.)

What it does, so that RecBole sees exactly what our baselines see:

- Data: one atomic ``.inter`` file holding, per user, the training interactions of
  ``interactions/train`` followed by the validation target, then the test target (both
  read from ``eval/``). The timestamp column is the position in that sequence, so RecBole's
  time ordering reproduces the protocol's order (same-second ties by the protocol's seeded
  hash, ``r2rec_bench.task.order``). RecBole's
  leave-one-out split (``LS: valid_and_test``, ``TO``, by user) then gives the same train /
  validation / test partition, and its sequential models see the validation target as test
  input, as ours do. No filtering, no duplicate removal (the protocol has done both).
- Early stopping: RecBole's trainer, with ``_valid_epoch`` replaced by HR@1 over *our*
  fixed validation candidates (ties by the benchmark's one rule, ``r2rec_bench.task.scoring``),
  patience ``--stopping-step`` (RecBole's default 10). The best epoch's weights are kept in
  memory rather than through RecBole's checkpoint (``saved=False``): torch>=2.6 made
  ``torch.load`` default to ``weights_only=True``, which RecBole's checkpoint loading
  predates.
- Test: ``full_sort_predict`` for each test user, gathered on *our* 20 candidate ids; HR@1,
  HR@10, NDCG@10 with a seeded bootstrap over users, plus each user's id and target rank (so
  the intervals, and paired differences against our runs, can be recomputed with
  r2rec-bench's own ``summarize`` and ``paired_compare``).
- Time: wall and CPU seconds from loading the atomic files to the last test score, per model
  (summed over sittings when ``--checkpoint-dir`` resumed it). Autograd's anomaly mode, which
  importing RecBole's sequential models switches on (``sine.py``), is switched off: it
  changes no number, only the time.
- ``--checkpoint-dir``: see ``recbole_resume.py``; for runs longer than one sitting.
- Models and hyper-parameters: RecBole's defaults (its ``properties/model/*.yaml``): Pop;
  ItemKNN k=100, shrink 0; BPR and LightGCN (2 layers) 64 dims; SASRec 2 layers, 2 heads, 64
  dims, dropout 0.5, max length 50; GRU4Rec 64/128, dropout 0.3; Caser 64 dims, 4 vertical
  and 8 horizontal filters, dropout 0.4, max length 5 (the paper's L); the sequential models
  with cross-entropy over all items. Adam, lr 1e-3, batch 2048, at most ``--epochs`` epochs
  (RecBole's default 300). ``--train-batch-size`` and ``--learning-rate`` override the last
  two (RecBole's sequential models at batch 2048 take too long per epoch on a small CPU).
  Ours do not all share these defaults: their own (``baselines/neural.py``,
  ``sequential.py``, ``caser.py``) differ in learning rate (GRU4Rec 3e-3, BPR and LightGCN
  1e-2), batch size and SASRec's dropout (0.2); BENCHMARKS.md §7 sets each pair side by side.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# The benchmark's contract (task/) needs only numpy and pandas: import it from this checkout,
# so that order and ties are the benchmark's own, not a copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from recbole_resume import Resume  # scripts/, beside this file

from r2rec_bench.task.order import protocol_order
from r2rec_bench.task.scoring import target_ranks

MODELS = ("Pop", "ItemKNN", "BPR", "LightGCN", "SASRec", "GRU4Rec", "Caser")
SEQUENTIAL = {"SASRec", "GRU4Rec", "Caser"}
# Caser's image is its last L items: the paper's Markov order L = 5, as ours, rather than the
# 50 RecBole would otherwise give it (and 50 horizontal filter heights).
MAX_LENGTH = {"Caser": 5}
ONE_PASS = {"Pop", "ItemKNN"}  # nothing to iterate: one epoch is the whole fit


def fingerprint(dataset: Path) -> str:
    return json.loads((dataset / "MANIFEST.json").read_text())["fingerprint"]


def read_split(dataset: Path, name: str) -> pd.DataFrame:
    files = sorted((dataset / "eval").glob(f"{name}-*.parquet"))
    columns = ["user_id", "candidates", "target", "target_index"]
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)


def write_atomic(dataset: Path, directory: Path, name: str) -> None:
    """``<name>.inter``: each user's training sequence, validation target, test target."""
    files = sorted((dataset / "interactions").glob("train-*.parquet"))
    train = pd.concat(
        [pd.read_parquet(f, columns=["user_id", "item_id", "timestamp"]) for f in files]
    )
    manifest = json.loads((dataset / "MANIFEST.json").read_text())
    train = train.iloc[
        protocol_order(train["user_id"], train["item_id"], train["timestamp"], manifest)
    ]
    parts = [train[["user_id", "item_id"]].assign(_stage=0)]
    for stage, split in ((1, "validation"), (2, "test")):
        targets = read_split(dataset, split)[["user_id", "target"]]
        parts.append(targets.rename(columns={"target": "item_id"}).assign(_stage=stage))
    frame = pd.concat(parts, ignore_index=True)
    frame["_order"] = np.arange(len(frame))
    frame = frame.sort_values(["user_id", "_stage", "_order"], kind="stable")
    frame["timestamp"] = frame.groupby("user_id").cumcount()
    out = directory / name
    out.mkdir(parents=True, exist_ok=True)
    header = "user_id:token\titem_id:token\ttimestamp:float\n"
    with open(out / f"{name}.inter", "w") as handle:
        handle.write(header)
        frame[["user_id", "item_id", "timestamp"]].to_csv(
            handle, sep="\t", header=False, index=False
        )


def metrics(ranks: np.ndarray, seed: int, resamples: int = 10_000) -> dict:
    per_user = {
        "hr@1": (ranks <= 1).astype(float),
        "hr@10": (ranks <= 10).astype(float),
        "ndcg@10": np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0),
    }
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(ranks), size=(resamples, len(ranks)))
    result = {}
    for name, values in per_user.items():
        means = values[draws].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        result[name] = {"value": float(values.mean()), "ci_low": low, "ci_high": high}
    return result


class CandidateScorer:
    """Scores our fixed candidates from a RecBole evaluation data loader."""

    def __init__(self, dataset, split: pd.DataFrame) -> None:
        self.dataset = dataset
        uid, iid = dataset.uid_field, dataset.iid_field
        self.uid = uid
        self.rows = {}
        for user, candidates, target_index in zip(
            split["user_id"], split["candidates"], split["target_index"], strict=True
        ):
            internal = dataset.token2id(uid, str(user))
            self.rows[int(internal)] = (
                dataset.token2id(iid, [str(c) for c in candidates]),
                int(target_index),
                str(user),
                [str(c) for c in candidates],
            )

    def ranks(self, model, loader) -> np.ndarray:
        import torch

        model.eval()
        found = {}
        with torch.no_grad():
            for batch in loader:
                interaction = batch[0]
                scores = model.full_sort_predict(interaction.to(model.device))
                scores = scores.view(-1, self.dataset.item_num).cpu().numpy()
                for row, user in enumerate(interaction[self.uid].cpu().numpy()):
                    codes, target_index, token, ids = self.rows[int(user)]
                    found[int(user)] = (scores[row, codes], target_index, token, ids)
        users = sorted(found)
        scores = np.stack([found[u][0] for u in users]).astype(np.float64)
        targets = np.array([found[u][1] for u in users])
        self.users = [found[u][2] for u in users]  # user ids, in the order of the ranks
        return target_ranks(scores, targets, self.users, [found[u][3] for u in users])


class TimeLimit(Exception):
    """Raised between epochs once a model has trained for ``--max-seconds``."""


def run_model(name: str, args, directory: Path, validation, test) -> dict:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    config = {
        "data_path": str(directory),
        "checkpoint_dir": str(directory / "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "group_by": "user",
            "mode": "full",
        },
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "MAX_ITEM_LIST_LENGTH": MAX_LENGTH.get(name, 50),
        "use_gpu": False,
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        "state": "WARNING",
        "epochs": 1 if name in ONE_PASS else args.epochs,
        "stopping_step": args.stopping_step,
        "eval_step": 1,
        "log_wandb": False,
    }
    if name in SEQUENTIAL:
        config["train_neg_sample_args"] = None  # cross-entropy over all items
    if args.train_batch_size:
        config["train_batch_size"] = args.train_batch_size
    if args.learning_rate:
        config["learning_rate"] = args.learning_rate
    start, start_cpu = time.perf_counter(), time.process_time()
    cfg = Config(model=name, dataset=args.name, config_dict=config)
    init_seed(cfg["seed"], cfg["reproducibility"])
    torch.set_num_threads(args.threads)
    logging.getLogger().setLevel(logging.WARNING)
    data = create_dataset(cfg)
    train_data, valid_data, test_data = data_preparation(cfg, data)
    init_seed(cfg["seed"] + cfg["local_rank"], cfg["reproducibility"])
    model = get_model(cfg["model"])(cfg, train_data._dataset).to(cfg["device"])
    # Importing RecBole's sequential models runs sine.py's module-level
    # ``torch.autograd.set_detect_anomaly(True)``, which turns on autograd's anomaly mode for
    # every model of the process: a NaN check and a stack trace per backward node, a
    # debugging aid that changes no number but multiplies training time. Off, as RecBole
    # means its models to run.
    torch.autograd.set_detect_anomaly(False)
    valid_scorer = CandidateScorer(data, validation)
    test_scorer = CandidateScorer(data, test)
    curve: list[float] = []
    best: dict = {}
    trainer_class = get_trainer(cfg["MODEL_TYPE"], cfg["model"])

    class OurValidation(trainer_class):  # type: ignore[misc, valid-type]
        """Early stopping on HR@1 over our validation candidates; best weights in memory."""

        def _valid_epoch(self, valid_data, show_progress=False):
            hr1 = float((valid_scorer.ranks(self.model, valid_data) <= 1).mean())
            curve.append(hr1)
            if hr1 > best.get("hr1", -1.0):
                best.update(hr1=hr1, epoch=len(curve), state=copy.deepcopy(self.model.state_dict()))
            return hr1, {"hr@1": hr1}

    trainer = OurValidation(cfg, model)
    settings = {"model": name, "seed": args.seed, "manifest": args.manifest}
    settings |= {key: cfg[key] for key in ("train_batch_size", "learning_rate", "stopping_step")}
    # A one-pass model has nothing to resume, and its counts (Pop's) live outside state_dict.
    resume = Resume(None if name in ONE_PASS else args.checkpoint_dir, name, settings)
    earlier = resume.load(trainer, train_data)
    earlier_seconds, earlier_cpu = 0.0, 0.0
    if earlier:
        curve.extend(earlier["curve"])
        best.update(earlier["best"])
        earlier_seconds, earlier_cpu = earlier["seconds"], earlier["cpu_seconds"]
        print(f"  {name}: resumed after epoch {len(curve)} from {resume.path}", file=sys.stderr)

    def after_epoch(epoch_index: int, valid_score: float) -> None:
        """Runs after RecBole's early-stopping update: checkpoint, progress, time limit."""
        elapsed = time.perf_counter() - start
        resume.save(trainer, train_data, curve, best, earlier_seconds + elapsed,
                    earlier_cpu + time.process_time() - start_cpu)  # fmt: skip
        print(f"  {name} epoch {len(curve)}: validation HR@1 {valid_score:.4f}, {elapsed:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
        if args.max_seconds and elapsed > args.max_seconds:
            raise TimeLimit

    try:
        trainer.fit(train_data, valid_data, saved=False, show_progress=False, verbose=False,
                    callback_fn=after_epoch)  # fmt: skip
        stopped_by = "early stopping" if len(curve) < cfg["epochs"] else "epochs"
    except TimeLimit:
        stopped_by = "time limit"
    if best:
        model.load_state_dict(best["state"])
    ranks = test_scorer.ranks(model, test_data)
    return {
        "model": name,
        "seconds": earlier_seconds + time.perf_counter() - start,
        "cpu_seconds": earlier_cpu + time.process_time() - start_cpu,
        "sittings": 1 + bool(earlier),
        "epochs": len(curve),
        "stopped_by": stopped_by,
        "best_epoch": best.get("epoch", 0),
        "best_validation_hr1": best.get("hr1", 0.0),
        "validation_hr1": curve,
        "test": metrics(ranks, args.seed),
        "test_ranks": ranks.tolist(),
        "test_users": test_scorer.users,
        "hyperparameters": {
            key: cfg[key]
            for key in (
                "embedding_size",
                "hidden_size",
                "n_layers",
                "n_heads",
                "inner_size",
                "hidden_dropout_prob",
                "attn_dropout_prob",
                "dropout_prob",
                "num_layers",
                "nv",
                "nh",
                "reg_weight",
                "k",
                "shrink",
                "learning_rate",
                "train_batch_size",
                "loss_type",
                "MAX_ITEM_LIST_LENGTH",
                "epochs",
                "stopping_step",
            )
            if cfg[key] is not None
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a built dataset directory")
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=300, help="RecBole's default: 300")
    parser.add_argument("--stopping-step", type=int, default=10, help="RecBole's default: 10")
    parser.add_argument("--max-seconds", type=float, default=0.0,
                        help="stop a model's training after the epoch that passes this "
                        "(0: no limit); the best epoch so far is evaluated")  # fmt: skip
    parser.add_argument("--train-batch-size", type=int, default=0,
                        help="RecBole's train_batch_size (0: its default, 2048)")  # fmt: skip
    parser.add_argument("--learning-rate", type=float, default=0.0,
                        help="Adam's learning rate (0: RecBole's model default)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (ours use 1)")
    parser.add_argument("--checkpoint-dir", type=Path,
                        help="keep each model's training state here after every epoch; "
                        "resume from it when present (runs longer than one sitting)")  # fmt: skip
    parser.add_argument("--name", default="r2rec", help="RecBole's name for the dataset")
    args = parser.parse_args()

    import recbole
    import torch

    # RecBole's Config also parses sys.argv; ours are not for it.
    sys.argv = sys.argv[:1]
    # RecBole 1.2.1 on pandas 2.x and torch 2.x warns about its own deprecated calls.
    warnings.filterwarnings("ignore", category=FutureWarning)

    validation = read_split(args.dataset, "validation")
    test = read_split(args.dataset, "test")
    results = []
    args.dataset, args.out = args.dataset.resolve(), args.out.resolve()
    args.manifest = fingerprint(args.dataset)  # read once: it keys checkpoints and the output
    if args.checkpoint_dir:
        args.checkpoint_dir = args.checkpoint_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="recbole-yardstick-") as tmp:
        directory = Path(tmp)
        # RecBole's trainer writes TensorBoard logs under the working directory.
        os.chdir(directory)
        write_atomic(args.dataset, directory, args.name)
        for name in args.models:
            result = run_model(name, args, directory, validation, test)
            results.append(result)
            summary = {k: round(v["value"], 4) for k, v in result["test"].items()}
            print(f"{name}: {summary} in {result['seconds']:.1f} s, "
                  f"{result['epochs']} epochs", flush=True)  # fmt: skip
            # Written after every model, so a long run's finished models are kept.
            args.out.write_text(json.dumps({
                "dataset": str(args.dataset),
                "manifest": args.manifest,
                "recbole": recbole.__version__,
                "torch": torch.__version__,
                "threads": args.threads,
                "anomaly_detection": False,
                "results": results,
            }, indent=2, default=float) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
