"""SASRec and GRU4Rec, written in torch (why not a library: ``neural``'s docstring).

Each predicts the next item at *every* position of a window of the user's training sequence,
so one forward pass yields up to ``max_len`` training targets instead of RecBole's one per
padded prefix. The loss (``loss``) is RecBole's default for sequential models, cross-entropy
with a full softmax over the catalog (``ce``), or one of the sampled losses the literature
also trains them with, on one negative per target drawn uniformly among the items the user
has no training interaction with: ``bpr`` (RecBole's ``loss_type: BPR``) and ``bce`` (binary
cross-entropy on the positive and the negative, the SASRec paper's).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from r2rec_bench.baselines.data import TrainingData
from r2rec_bench.baselines.neural import TorchBaseline, uniform_negatives
from r2rec_bench.errors import UserError

LOSSES = ("ce", "bpr", "bce")


class SequenceBaseline(TorchBaseline):
    """A next-item model over item codes shifted by one (0 pads), trained on windows."""

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if self.hyperparameters["loss"] not in LOSSES:
            raise UserError(
                f"{self.name}: loss {self.hyperparameters['loss']!r}; use one of "
                f"{', '.join(LOSSES)} (ce: softmax over every item; bpr, bce: one uniform "
                "negative per target)"
            )

    def _losses(self, data, rng):
        loss = self.hyperparameters["loss"]
        owners, inputs, targets = self._windows(data, rng)
        positives = data.pair_keys if loss != "ce" else None
        batch = self.hyperparameters["train_batch_size"]
        for rows in np.array_split(rng.permutation(len(inputs)), -(-len(inputs) // batch)):
            width = int((inputs[rows] > 0).sum(axis=1).max())
            x = torch.from_numpy(inputs[rows, :width])
            y = torch.from_numpy(targets[rows, :width])
            real = y >= 0
            hidden = self.model.encode(x)[real]  # (targets, dim): only real positions
            if loss == "ce":
                yield F.cross_entropy(hidden @ self.model.items.weight[1:].T, y[real])
                continue
            users = np.broadcast_to(owners[rows, None], real.shape)[real.numpy()]
            negatives = uniform_negatives(rng, positives, users, data.num_items)
            positive = (hidden * self.model.items(y[real] + 1)).sum(dim=1)
            negative = (hidden * self.model.items(torch.from_numpy(negatives) + 1)).sum(dim=1)
            if loss == "bpr":
                yield -F.logsigmoid(positive - negative).mean()
            else:
                yield -(F.logsigmoid(positive) + F.logsigmoid(-negative)).mean()

    def _windows(self, data: TrainingData, rng: np.random.Generator):
        """Every training target once per epoch: each user's sequence is cut into windows of
        ``max_len`` inputs at a random offset, so the boundaries move between epochs.
        Returns each window's user, its inputs and its targets."""
        length = self.hyperparameters["max_len"]
        offsets = data.user_offsets
        owners, inputs, targets = [], [], []
        for user in range(data.num_users):
            sequence = data.items[offsets[user] : offsets[user + 1]]
            size = len(sequence)
            for start in range(-int(rng.integers(length)), size - 1, length):
                low, high = max(start, 0), min(start + length, size - 1)
                if high <= low:  # a user with a single training interaction has no target
                    continue
                owners.append(user)
                window = np.zeros(length, np.int64)
                window[: high - low] = sequence[low:high] + 1
                inputs.append(window)
                target = np.full(length, -1, np.int64)
                target[: high - low] = sequence[low + 1 : high + 1]
                targets.append(target)
        return np.array(owners), np.stack(inputs), np.stack(targets)

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
        "loss": "ce",
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
        "loss": "ce",
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
