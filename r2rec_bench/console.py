"""Output every command shares: ``--json`` prints one indented JSON document to stdout."""

from __future__ import annotations

import json
import sys


def print_json(payload) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
