"""The K=V,... options every command reads the same way (--model-args, --teacher-args)."""

from __future__ import annotations

import pytest

from r2rec_bench.console import parse_key_values
from r2rec_bench.errors import UserError


def test_values_are_typed():
    parsed = parse_key_values("dtype=bfloat16, batch_size=16,trust_remote_code=true,x=None", "--f")
    assert parsed == {"dtype": "bfloat16", "batch_size": 16, "trust_remote_code": True, "x": None}
    assert parse_key_values(None, "--f") == {} == parse_key_values("", "--f")


def test_decimals_are_numbers_but_names_that_look_numeric_are_not():
    parsed = parse_key_values("t=0.7,p=.9,lr=1e-3,x=-2.5,r=v1.2,n=nan,i=inf", "--gen-kwargs")
    assert parsed == {"t": 0.7, "p": 0.9, "lr": 0.001, "x": -2.5, "r": "v1.2", "n": "nan",
                      "i": "inf"}  # fmt: skip


@pytest.mark.parametrize("text", ["dtype", "=bf16", "two words=1", "a=1,,b=2"])
def test_malformed_pairs_name_the_flag(text):
    with pytest.raises(UserError, match=r"^--model-args .*: use key=value pairs"):
        parse_key_values(text, "--model-args")
