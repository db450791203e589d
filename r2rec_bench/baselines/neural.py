"""BPR-MF, LightGCN, SASRec and GRU4Rec, written in torch.

No well-kept library fits these: the reference implementations live in RecBole, whose pins
(``numpy<2``, old setuptools and scipy) cannot sit beside this package's stack; the graph
libraries offer LightGCN's propagation but neither its training nor the sequence models; and
``implicit``'s BPR samples its negatives differently (see :class:`BPRBaseline`). Each model is
small, follows its paper and RecBole's defaults, and trains on the CPU:

- the sequence models predict the next item at *every* position of a window of the user's
  training sequence, with a full softmax over the catalog (SASRec and GRU4Rec as RecBole
  trains them, with cross-entropy), so one forward pass yields up to ``max_len`` training
  targets instead of RecBole's one per padded prefix;
- LightGCN propagates the whole training graph once per batch and learns with BPR on uniform
  negatives; BPR-MF is the same without propagation.

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


# ----------------------------------------------------------------------------- sequences


class SequenceBaseline(TorchBaseline):
    """A next-item model over item codes shifted by one (0 pads), trained on windows."""

    def _losses(self, data, rng):
        inputs, targets = self._windows(data, rng)
        batch = self.hyperparameters["train_batch_size"]
        for rows in np.array_split(rng.permutation(len(inputs)), -(-len(inputs) // batch)):
            width = int((inputs[rows] > 0).sum(axis=1).max())
            x = torch.from_numpy(inputs[rows, :width])
            y = torch.from_numpy(targets[rows, :width])
            hidden = self.model.encode(x)[y >= 0]  # (targets, dim): only real positions
            yield F.cross_entropy(hidden @ self.model.items.weight[1:].T, y[y >= 0])

    def _windows(self, data: TrainingData, rng: np.random.Generator):
        """Every training target once per epoch: each user's sequence is cut into windows of
        ``max_len`` inputs at a random offset, so the boundaries move between epochs."""
        length = self.hyperparameters["max_len"]
        offsets = data.user_offsets
        inputs, targets = [], []
        for user in range(data.num_users):
            sequence = data.items[offsets[user] : offsets[user + 1]]
            size = len(sequence)
            for start in range(-int(rng.integers(length)), size - 1, length):
                low, high = max(start, 0), min(start + length, size - 1)
                if high <= low:  # a user with a single training interaction has no target
                    continue
                window = np.zeros(length, np.int64)
                window[: high - low] = sequence[low:high] + 1
                inputs.append(window)
                target = np.full(length, -1, np.int64)
                target[: high - low] = sequence[low + 1 : high + 1]
                targets.append(target)
        return np.stack(inputs), np.stack(targets)

    def _score_batch(self, users, histories, codes):
        assert self.data is not None
        length = self.hyperparameters["max_len"]
        sequences = [s[-length:] + 1 for s in self.user_sequences(users, histories)]
        x = torch.zeros((len(sequences), length), dtype=torch.int64)
        for row, sequence in enumerate(sequences):
            x[row, : len(sequence)] = torch.from_numpy(sequence)
        last = torch.tensor([max(len(s), 1) - 1 for s in sequences])
        hidden = self.model.encode(x)[torch.arange(len(sequences)), last]  # (users, dim)
        return torch.einsum("nd,ncd->nc", hidden, self.model.items(codes + 1))


class SASRecBaseline(SequenceBaseline):
    """Self-attentive sequential recommendation (Kang & McAuley 2018), causal attention."""

    name = "sasrec"
    DEFAULTS: ClassVar[dict] = {
        "dim": 64,
        "layers": 2,
        "heads": 2,
        "dropout": 0.2,
        "max_len": 50,
        "learning_rate": 1e-3,
        "l2": 0.0,
        "train_batch_size": 64,
        "max_epochs": 200,
        "patience": 10,
    }

    def _build(self, data):
        hyper = self.hyperparameters
        return SASRec(
            data.num_items, hyper["dim"], hyper["layers"], hyper["heads"], hyper["dropout"],
            hyper["max_len"],
        )  # fmt: skip


class GRU4RecBaseline(SequenceBaseline):
    """Session-based recommendation with a GRU (Hidasi et al. 2016), RecBole's variant."""

    name = "gru4rec"
    DEFAULTS: ClassVar[dict] = {
        "dim": 64,
        "hidden": 128,
        "dropout": 0.3,
        "max_len": 50,
        "learning_rate": 3e-3,
        "l2": 0.0,
        "train_batch_size": 128,
        "max_epochs": 200,
        "patience": 10,
    }

    def _build(self, data):
        hyper = self.hyperparameters
        return GRU4Rec(data.num_items, hyper["dim"], hyper["hidden"], hyper["dropout"])


class SASRec(nn.Module):
    def __init__(self, num_items: int, dim: int, layers: int, heads: int, dropout: float,
                 max_len: int) -> None:  # fmt: skip
        super().__init__()
        self.items = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.normal_(parameter, std=0.02)  # BERT-style, as RecBole initialises
        self.items.weight.data[0] = 0.0

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden state at each position of right-padded windows, (B, L) -> (B, L, dim).
        Causal attention alone suffices: a real position never sees the padding after it."""
        width = x.shape[1]
        hidden = self.items(x) + self.positions(torch.arange(width))
        mask = nn.Transformer.generate_square_subsequent_mask(width)
        return self.encoder(self.dropout(self.norm(hidden)), mask=mask, is_causal=True)


class GRU4Rec(nn.Module):
    def __init__(self, num_items: int, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.items = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.dense = nn.Linear(hidden, dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(self.dropout(self.items(x)))
        return self.dense(output)


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
        positives = np.unique(data.users * data.num_items + data.items)
        order = rng.permutation(len(positives))
        for rows in np.array_split(order, -(-len(order) // hyper["train_batch_size"])):
            users, items = np.divmod(positives[rows], data.num_items)
            negatives = rng.integers(data.num_items, size=len(rows))
            clash = _contains(positives, users * data.num_items + negatives)
            while clash.any():  # resample the few negatives that are positives
                negatives[clash] = rng.integers(data.num_items, size=int(clash.sum()))
                clash = _contains(positives, users * data.num_items + negatives)
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
