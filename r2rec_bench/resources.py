"""Locate the builders and card templates, from a checkout or from an installed wheel.

In the repository they live at the top level (``builders/``, ``hub_cards/``); the wheel
carries them under ``r2rec_bench/_data/`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``builders`` or ``hub_cards``: the packaged copy if installed, else the checkout's."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"r2rec-bench resource folder {name!r} is missing from the install")
