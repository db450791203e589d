"""The `sft` and `rl` configs of the whole ml-100k-iot build, checked from the published files
alone: anyone can verify a trace against `interactions/train` this way (issue 3)."""

from __future__ import annotations

import json
import re

import pytest

from r2rec_bench.build import build
from r2rec_bench.errors import UserError
from r2rec_bench.hashing import sha256_file
from tests.conftest import load_config

QUOTED = re.compile(r'"([^"]+)"')


@pytest.fixture(scope="module")
def published(ml100k_build):
    root = str(ml100k_build)
    sft = [row for split in ("train", "validation") for row in load_config(root, "sft", split)]
    return {
        "sft": sft,
        "rl": load_config(root, "rl", "train"),
        "train": load_config(root, "interactions", "train").to_pandas(),
        "catalog": load_config(root, "items", "catalog"),
        "eval": {s: load_config(root, "eval", s) for s in ("validation", "test")},
        "manifest": json.loads((ml100k_build / "MANIFEST.json").read_text()),
    }


def test_every_chain_edge_is_a_training_interaction_visible_to_its_example(published):
    edges = {
        (u, i): t
        for u, i, t in zip(
            published["train"]["user_id"], published["train"]["item_id"],
            published["train"]["timestamp"], strict=True,
        )
    }  # fmt: skip
    held_out = {
        (row["user_id"], row["target"]) for split in published["eval"].values() for row in split
    }
    checked = 0
    for row in published["sft"]:
        for chain in row["chains"]:
            assert chain["nodes"][0] == {"kind": "user", "id": row["user_id"], "title": None}
            for edge in chain["edges"]:
                pair = (edge["user_id"], edge["item_id"])
                assert edges.get(pair) == edge["timestamp"], pair
                assert pair not in held_out
                if edge["user_id"] == row["user_id"]:
                    assert edge["timestamp"] < row["target_timestamp"]
                checked += 1
    assert checked > 1000


def test_thoughts_cite_exact_titles_and_the_answer_is_the_target(published):
    titles = set(published["catalog"]["title"])
    by_title = dict(
        zip(published["catalog"]["title"], published["catalog"]["item_id"], strict=True)
    )
    for row in published["sft"]:
        assistant = row["messages"][-1]
        assert assistant["role"] == "assistant"
        assert assistant["content"].endswith(f"<answer>{row['target_title']}</answer>")
        for thought in row["thoughts"]:
            cited = QUOTED.findall(thought["text"])
            assert set(cited) <= titles, cited
            assert sorted(by_title[c] for c in set(cited)) == sorted(set(thought["cited_item_ids"]))
        assert row["target_title"] in QUOTED.findall(row["thoughts"][-1]["text"])
        assert row["messages"][:2] == [
            {"role": "system", "content": row["messages"][0]["content"]},
            row["messages"][1],
        ]


def test_no_trace_names_its_users_validation_or_test_target(published):
    """Anywhere: the messages, the chains, the thoughts' citations (issue 14)."""
    title = dict(zip(published["catalog"]["item_id"], published["catalog"]["title"], strict=True))
    held_out: dict[str, set[str]] = {}
    for split in published["eval"].values():
        for user, target in zip(split["user_id"], split["target"], strict=True):
            held_out.setdefault(user, set()).add(target)
    named = 0
    for row in published["sft"]:
        targets = held_out[row["user_id"]]
        text = "\n".join(message["content"] for message in row["messages"])
        quoted = set(QUOTED.findall(text))
        named += bool({title[t] for t in targets} & quoted)
        ids = {n["id"] for c in row["chains"] for n in c["nodes"] if n["kind"] == "item"}
        ids |= {i for t in row["thoughts"] for i in t["cited_item_ids"]}
        named += bool(ids & targets)
    assert named == 0


def test_a_quarter_or_more_of_the_traces_hold_a_closed_loop(published):
    iot = published["manifest"]["statistics"]["iot"]
    with_loop = [row for row in published["sft"] if any(c["kind"] == "loop" for c in row["chains"])]
    assert len(with_loop) >= len(published["sft"]) / 4
    assert len(with_loop) == iot["kept_with_loop"]
    for row in with_loop:
        loop = next(c for c in row["chains"] if c["kind"] == "loop")
        user, i0, u1, i1, back = (n["id"] for n in loop["nodes"])
        assert user == back == row["user_id"] and u1 != user and i0 != i1
        assert {i0, i1} <= set(row["history"])  # u1 shares two shown items with the user


def test_verified_is_read_against_chance(published):
    """Every thought records its step and options; the card's table counts them."""
    by_kind = {r["step"]: r for r in published["manifest"]["statistics"]["iot"]["steps_by_kind"]}
    for row in published["sft"]:
        for thought in row["thoughts"]:
            assert thought["step"] in by_kind and 1 <= thought["options"] <= 20
    assert by_kind["target"]["chance"] == pytest.approx(1 / 20)
    # Verified means better than chance, and no step kind is free (kinds of 100 steps or
    # more: a 3-hop bridge's middle item is rare on ml-100k).
    for kind in (k for k in by_kind.values() if k["steps"] >= 100):
        assert kind["chance"] < kind["verified"] < 1


def test_quality_filter_and_counts_match_the_card(published):
    iot = published["manifest"]["statistics"]["iot"]
    assert iot["examples"] == published["rl"].num_rows == 3 * 943
    kept = iot["sft_rows"]["train"] + iot["sft_rows"]["validation"]
    assert kept == len(published["sft"]) == iot["kept_traces"]
    for row in published["sft"]:
        verified = [t["verified"] for t in row["thoughts"]]
        assert row["quality"] == pytest.approx(sum(verified) / len(verified))
        assert row["attribute_only"] or row["quality"] >= iot["min_quality"]
    assert sum(b["traces"] for b in iot["quality_histogram"]) == iot["examples"]


def test_rl_rows_are_training_examples_with_the_eval_prompt_format(published):
    held_out = {
        (row["user_id"], row["target"]) for split in published["eval"].values() for row in split
    }
    for row in published["rl"]:
        assert (row["user_id"], row["target"]) not in held_out
        assert row["candidates"][row["target_index"]] == row["target"]
        assert len(set(row["candidates"])) == 20
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"][1]["content"].count('\n- "') == 20


def test_a_sharded_build_merges_to_the_same_bytes(ml100k_raw, ml100k_build, tmp_path):
    out = tmp_path / "ds"
    for index in range(3):
        build("ml-100k-iot", out=out, raw_dir=ml100k_raw, shard=(index, 3), quiet=True)
    assert not out.exists()
    build("ml-100k-iot", out=out, raw_dir=ml100k_raw, merge_shards=3, quiet=True)
    for path in ml100k_build.rglob("*.parquet"):
        assert sha256_file(out / path.relative_to(ml100k_build)) == sha256_file(path), path


def test_merging_refuses_missing_or_foreign_shards(ml100k_raw, tmp_path):
    out = tmp_path / "ds"
    build("ml-100k-iot", out=out, raw_dir=ml100k_raw, shard=(0, 2), quiet=True)
    with pytest.raises(UserError, match=r"shard-00001-of-00002.jsonl.gz: missing"):
        build("ml-100k-iot", out=out, raw_dir=ml100k_raw, merge_shards=2, quiet=True)
    build("ml-100k-iot", out=out, raw_dir=ml100k_raw, shard=(1, 2), seed=5, quiet=True)
    with pytest.raises(UserError, match="built with another"):
        build("ml-100k-iot", out=out, raw_dir=ml100k_raw, merge_shards=2, quiet=True)
    assert not out.exists()


def test_a_sample_of_examples_gets_traces_through_the_command_line(ml100k_raw, tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "sample"
    args = ["build", "--raw-dir", str(ml100k_raw), "--out", str(out), "--quiet",
            "--max-examples", "40", "--json"]  # fmt: skip
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    iot = json.loads(result.stdout)["statistics"]["iot"]
    assert iot["examples"] == iot["rl_rows"] == iot["max_examples"] == 40
    assert iot["verified_steps"]["steps"] >= 40 and "template_comparison" not in iot
    assert "seeded sample of 40 training examples" in (out / "README.md").read_text()
    # The same seed picks the same examples: a second build is byte-identical.
    again = run_cli(*[a if a != str(out) else str(tmp_path / "again") for a in args])
    assert again.returncode == 0, again.stderr
    first = json.loads(result.stdout)["fingerprint"]
    assert json.loads(again.stdout)["fingerprint"] == first
