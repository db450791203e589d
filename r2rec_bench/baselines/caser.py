"""Caser (Tang & Wang 2018): the user's last ``max_len`` items as an image, read by
horizontal and vertical convolutions, joined with a learned user embedding.

The third sequential baseline of LLaRA's table, beside SASRec and GRU4Rec. As RecBole 1.2.1
trains it: one next-item target per training position (the ``max_len`` items before it as
input), a full softmax over the catalog, RecBole's defaults (64 dimensions, 4 vertical and 8
horizontal filters of every height 1..``max_len``, dropout 0.4) and its penalty (``reg``
times the L2 norm, not squared, of the embeddings, the convolutions and the dense layers).
``max_len`` is the paper's Markov order L = 5 (RecBole would take its global
``MAX_ITEM_LIST_LENGTH``, 50). Inputs are left-padded, so the newest item always sits in the
last row of the image, whichever the length of the user's history.

Not the sequence models' windows (sequential.SequenceBaseline): Caser's hidden state at a position
depends on the user and on a fixed-width context, so each training example is built whole.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from r2rec_bench.baselines.data import TrainingData
from r2rec_bench.baselines.neural import TorchBaseline


class CaserBaseline(TorchBaseline):
    """Convolutional sequence embedding; it scores a user by a learned user embedding too,
    so it cannot score from the shown history alone."""

    name = "caser"
    SCORES_FROM_HISTORY = False
    DEFAULTS: ClassVar[dict] = {
        "dim": 64,
        "max_len": 5,
        "vertical": 4,
        "horizontal": 8,
        "dropout": 0.4,
        "reg": 1e-4,
        "learning_rate": 1e-3,
        "l2": 0.0,
        "train_batch_size": 256,
        "max_epochs": 200,
        "patience": 10,
    }

    def _build(self, data):
        hyper = self.hyperparameters
        return Caser(
            data.num_users, data.num_items, hyper["dim"], hyper["max_len"], hyper["vertical"],
            hyper["horizontal"], hyper["dropout"],
        )  # fmt: skip

    def _losses(self, data, rng):
        users, inputs, targets = training_examples(data, self.hyperparameters["max_len"])
        batch, reg = self.hyperparameters["train_batch_size"], self.hyperparameters["reg"]
        for rows in np.array_split(rng.permutation(len(targets)), -(-len(targets) // batch)):
            hidden = self.model(torch.from_numpy(users[rows]), torch.from_numpy(inputs[rows]))
            loss = F.cross_entropy(
                hidden @ self.model.items.weight[1:].T, torch.from_numpy(targets[rows])
            )
            yield loss + reg * self.model.penalty()

    def _score_batch(self, users, histories, codes):
        assert self.data is not None
        length = self.hyperparameters["max_len"]
        x = torch.zeros((len(users), length), dtype=torch.int64)
        for row, sequence in enumerate(self.user_sequences(users, histories)):
            recent = sequence[-length:] + 1
            x[row, length - len(recent) :] = torch.from_numpy(recent)
        hidden = self.model(torch.from_numpy(self.data.user_codes(users)), x)
        return torch.einsum("nd,ncd->nc", hidden, self.model.items(codes + 1))


def training_examples(data: TrainingData, length: int):
    """``(users, inputs, targets)``: one example per training interaction after a user's
    first; its input is the (up to) ``length`` items before it, shifted by one and
    left-padded with 0, the newest last."""
    offsets = data.user_offsets
    position = np.arange(len(data.items)) - offsets[data.users]
    at = np.flatnonzero(position >= 1)
    inputs = np.zeros((len(at), length), np.int64)
    for lag in range(1, length + 1):
        present = position[at] >= lag
        inputs[present, length - lag] = data.items[at[present] - lag] + 1
    return data.users[at].astype(np.int64), inputs, data.items[at].astype(np.int64)


class Caser(nn.Module):
    def __init__(self, num_users: int, num_items: int, dim: int, length: int, vertical: int,
                 horizontal: int, dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.items = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.users = nn.Embedding(num_users, dim)
        self.vertical = nn.Conv2d(1, vertical, (length, 1))
        self.horizontal = nn.ModuleList(
            nn.Conv2d(1, horizontal, (height, dim)) for height in range(1, length + 1)
        )
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(vertical * dim + horizontal * length, dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        for module in self.modules():  # RecBole's initialisation
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, 1.0 / module.embedding_dim)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)
        self.items.weight.data[0] = 0.0

    def forward(self, users: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(B,) user codes (-1: unknown to training, no user vector) and (B, max_len) inputs
        -> (B, dim) hidden states, scored against item embeddings by dot product."""
        image = self.items(x).unsqueeze(1)  # (B, 1, max_len, dim)
        vertical = self.vertical(image).flatten(1)
        horizontal = [F.relu(conv(image).squeeze(3)).amax(dim=2) for conv in self.horizontal]
        z = F.relu(self.fc1(self.dropout(torch.cat([vertical, *horizontal], dim=1))))
        user = self.users(users.clamp(min=0)) * (users >= 0).unsqueeze(1)
        return F.relu(self.fc2(torch.cat([z, user], dim=1)))

    def penalty(self) -> torch.Tensor:
        weights = [self.users.weight, self.items.weight, self.vertical.weight, self.fc1.weight,
                   self.fc2.weight, *(conv.weight for conv in self.horizontal)]  # fmt: skip
        return torch.stack([w.norm(2) for w in weights]).sum()
