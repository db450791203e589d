"""The torch baselines' training loop, BPR-MF and LightGCN (the sequence models, on the same
loop: ``sequential``; Caser: ``caser``).

No well-kept library fits these: the reference implementations live in RecBole, whose pins
(``numpy<2``, old setuptools and scipy) cannot sit beside this package's stack; the graph
libraries offer LightGCN's propagation but neither its training nor the sequence models; and
``implicit``'s BPR samples its negatives differently (see :class:`BPRBaseline`). Each model is
small, follows its paper and RecBole's defaults, and trains on the CPU. LightGCN propagates
the whole training graph once per batch and learns with BPR on uniform negatives; BPR-MF is
the same without propagation.

Training is deterministic given the seed: torch's global generator is forked and seeded for
the fit, sampling uses a seeded numpy generator, and deterministic algorithms are required.

This module imports torch; the registry imports it only when one of these models is asked for.
"""

from __future__ import annotations

import contextlib
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from r2rec_bench.baselines.base import Baseline, EarlyStopping, FitReport, validation_hr1
from r2rec_bench.baselines.data import TrainingData

SCORE_BATCH = 1024  # users scored per forward pass


@contextlib.contextmanager
def _seeded(seed: int):
    """Seed torch for a fit, on one thread, without leaking the seed, the determinism flag or
    the thread count to the caller.

    One thread makes floating-point reductions independent of the machine's core count, and
    these models are too small to gain from more: on a 2-core machine that is also running
    other work, two OpenMP threads made a sparse product 7x slower than one.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(was_deterministic)


class TorchBaseline(Baseline):
    """Adam, one validation HR@1 per epoch, the best epoch's weights kept."""

    def _fit(self, data: TrainingData, seed: int, report: FitReport) -> None:
        hyper = self.hyperparameters
        with _seeded(seed):
            self.model = self._build(data)
            optimizer = torch.optim.Adam(
                self.model.parameters(), lr=hyper["learning_rate"], weight_decay=hyper["l2"]
            )
            rng = np.random.default_rng(seed)
            stopping = EarlyStopping(
                hyper["patience"], report, max_epochs=hyper["max_epochs"], quiet=self.quiet
            )
            for epoch in range(1, hyper["max_epochs"] + 1):
                self.model.train()
                for loss in self._losses(data, rng):
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                improved, stop = stopping.step(epoch, validation_hr1(self.score, data.validation))
                if improved:
                    best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                if stop:
                    break
            stopping.bar.close()
            self.model.load_state_dict(best)

    def _score(self, users, histories, codes):
        self.model.eval()
        with torch.no_grad():
            return np.concatenate(
                [
                    self._score_batch(
                        users[start : start + SCORE_BATCH],
                        histories[start : start + SCORE_BATCH],
                        torch.from_numpy(np.maximum(codes[start : start + SCORE_BATCH], 0)),
                    ).numpy()
                    for start in range(0, len(users), SCORE_BATCH)
                ]
                or [np.empty(codes.shape)]
            )

    def state(self):
        return {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}

    def _load_state(self, state):
        assert self.data is not None
        self.model = self._build(self.data)
        self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})

    def software(self) -> dict:
        return {**super().software(), "torch": torch.__version__}

    @abstractmethod
    def _build(self, data: TrainingData) -> nn.Module: ...

    @abstractmethod
    def _losses(self, data: TrainingData, rng: np.random.Generator) -> Iterator[torch.Tensor]:
        """One epoch: the loss of each mini-batch, in order."""

    @abstractmethod
    def _score_batch(self, users, histories, codes: torch.Tensor) -> torch.Tensor: ...


# ------------------------------------------------------------------------------- LightGCN


class LightGCNBaseline(TorchBaseline):
    """Simplified graph convolution (He et al. 2020) on the user-item training graph, with
    the BPR loss and negatives drawn uniformly among the items a user has not interacted with."""

    name = "lightgcn"
    SCORES_FROM_HISTORY = False
    DEFAULTS: ClassVar[dict] = {
        "dim": 64,
        "layers": 2,
        "learning_rate": 1e-2,
        "l2": 0.0,
        "reg": 1e-4,
        "train_batch_size": 2048,
        "max_epochs": 300,
        "patience": 10,
    }

    def _build(self, data):
        return LightGCN(data, self.hyperparameters["dim"], self._layers())

    def _layers(self) -> int:
        return self.hyperparameters["layers"]

    def _losses(self, data, rng):
        hyper = self.hyperparameters
        positives = data.pair_keys
        order = rng.permutation(len(positives))
        for rows in np.array_split(order, -(-len(order) // hyper["train_batch_size"])):
            users, items = np.divmod(positives[rows], data.num_items)
            negatives = uniform_negatives(rng, positives, users, data.num_items)
            u = torch.from_numpy(users)
            i, j = (torch.from_numpy(data.num_users + x) for x in (items, negatives))
            final = self.model.propagate()
            margin = (final[u] * (final[i] - final[j])).sum(dim=1)
            ego = self.model.embedding.weight
            penalty = (ego[u].square().sum() + ego[i].square().sum() + ego[j].square().sum()) / 2
            yield -F.logsigmoid(margin).mean() + hyper["reg"] * penalty / len(rows)

    def _score_batch(self, users, histories, codes):
        assert self.data is not None
        rows = torch.from_numpy(self.data.user_codes(users))
        final = self.model.propagate()
        # A user unknown to training has no node in the graph: every candidate scores 0.
        vectors = torch.where((rows >= 0)[:, None], final[rows.clamp(min=0)], 0.0)
        return torch.einsum("nd,ncd->nc", vectors, final[self.data.num_users + codes])


class BPRBaseline(LightGCNBaseline):
    """BPR-MF (Rendle et al. 2009): user and item embeddings whose dot product is trained with
    the BPR loss on uniform negatives, i.e. LightGCN without propagation layers.

    Not ``implicit``'s BPR, though that library is well kept and fast: it draws negatives from
    the list of interactions, in proportion to popularity, rather than uniformly as BPR and
    RecBole do. On ml-100k-iot's uniform candidates that cost it about 5 points of test HR@10
    (0.87 against RecBole's 0.92) at every learning rate and regularisation tried.
    """

    name = "bpr"
    DEFAULTS: ClassVar[dict] = {
        key: value for key, value in LightGCNBaseline.DEFAULTS.items() if key != "layers"
    }

    def _layers(self) -> int:
        return 0


def uniform_negatives(
    rng: np.random.Generator, positives: np.ndarray, users: np.ndarray, num_items: int
) -> np.ndarray:
    """One item per entry of ``users``, uniform among the items that user has no training
    interaction with (``positives``: the sorted keys user * num_items + item)."""
    negatives = rng.integers(num_items, size=len(users))
    clash = _contains(positives, users * num_items + negatives)
    while clash.any():  # resample the few negatives that are positives
        negatives[clash] = rng.integers(num_items, size=int(clash.sum()))
        clash = _contains(positives, users * num_items + negatives)
    return negatives


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


class LightGCN(nn.Module):
    def __init__(self, data: TrainingData, dim: int, layers: int) -> None:
        super().__init__()
        nodes = data.num_users + data.num_items
        self.embedding = nn.Embedding(nodes, dim)
        nn.init.xavier_normal_(self.embedding.weight)
        self.layers = layers
        if layers:
            self.adjacency = _normalised_adjacency(data)

    def propagate(self) -> torch.Tensor:
        """Final node embeddings: the mean of the layer-0..K embeddings."""
        layer = self.embedding.weight
        total = layer
        for _ in range(self.layers):
            layer = _Propagate.apply(self.adjacency, layer)
            total = total + layer
        return total / (self.layers + 1)


def _normalised_adjacency(data: TrainingData) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of the bipartite training graph, as CSR; rebuilt from the training
    data rather than saved with the weights."""
    nodes = data.num_users + data.num_items
    pairs = np.unique(data.users * data.num_items + data.items)
    users, items = np.divmod(pairs, data.num_items)
    source = np.concatenate([users, data.num_users + items])
    target = np.concatenate([data.num_users + items, users])
    degree = np.bincount(source, minlength=nodes)
    weight = (1.0 / np.sqrt(degree[source] * degree[target])).astype(np.float32)
    order = np.lexsort((target, source))  # row-major, as CSR stores it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.from_numpy(np.concatenate([[0], np.cumsum(degree)])),
            torch.from_numpy(target[order]),
            torch.from_numpy(weight[order]),
            (nodes, nodes),
            check_invariants=True,
        )


class _Propagate(torch.autograd.Function):
    """``A @ X`` for the symmetric adjacency ``A``: the gradient is ``A @ G``, so both passes
    are the same CSR product (several times faster on a CPU than the COO kernels)."""

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, ctx.adjacency @ grad
