"""What every command shares: ``--json`` prints one indented JSON document to stdout, and
``K=V,...`` options (``--model-args``, ``--teacher-args``) are read one way."""

from __future__ import annotations

import json
import re
import sys

from r2rec_bench.errors import UserError


def print_json(payload) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# A decimal number with a point or an exponent (not nan or inf, which stay strings).
_DECIMAL = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+(?=[eE]))([eE][-+]?\d+)?")


def parse_key_values(text: str | None, flag: str) -> dict:
    """``k=v,k2=v2`` as a dict: integers, decimals (0.7, 1e-3), true/false and none become
    numbers, booleans and None; anything else stays a string. ``UserError`` for a malformed
    pair."""
    if not text:
        return {}
    values: dict = {}
    for pair in text.split(","):
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier():
            raise UserError(f"{flag} {text}: use key=value pairs separated by commas")
        value = value.strip()
        lowered = value.lower()
        if lowered in ("true", "false"):
            values[key] = lowered == "true"
        elif lowered == "none":
            values[key] = None
        elif _DECIMAL.fullmatch(value):
            values[key] = float(value)
        else:
            try:
                values[key] = int(value)
            except ValueError:
                values[key] = value
    return values
