"""Publishing and describing a built dataset, with the Hub replaced by fakes (no network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import yaml
from huggingface_hub import CommitOperationAdd, constants
from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

from r2rec_bench.errors import UserError
from r2rec_bench.hashing import sha256_file
from r2rec_bench.hub.info import dataset_info, format_info
from r2rec_bench.hub.publish import format_plan, merge_card, publish


@pytest.fixture(scope="session")
def built(ml100k_build: Path) -> Path:
    return ml100k_build


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any real Hub request made by mistake fails instead of reaching the network.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def copy(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "ml-100k-iot"))


class FakeApi:
    """The HfApi methods ``publish`` uses, recording each call."""

    def __init__(
        self,
        tmp_path: Path,
        card: str | None = None,
        exists: bool = False,
        card_error: Exception | None = None,
    ) -> None:
        self.tmp_path, self.card, self.exists, self.card_error = tmp_path, card, exists, card_error
        self.calls: list[tuple[str, tuple, dict]] = []

    def repo_exists(self, *args, **kwargs) -> bool:
        self.calls.append(("repo_exists", args, kwargs))
        return self.exists

    def hf_hub_download(self, *args, **kwargs) -> str:
        self.calls.append(("hf_hub_download", args, kwargs))
        if self.card_error is not None:
            raise self.card_error
        if self.card is None:
            raise not_found("README.md")
        path = self.tmp_path / "remote-README.md"
        path.write_text(self.card, encoding="utf-8")
        return str(path)

    def create_repo(self, *args, **kwargs) -> None:
        self.calls.append(("create_repo", args, kwargs))

    def update_repo_settings(self, *args, **kwargs) -> None:
        self.calls.append(("update_repo_settings", args, kwargs))

    def create_commit(self, *args, **kwargs) -> SimpleNamespace:
        self.calls.append(("create_commit", args, kwargs))
        return SimpleNamespace(commit_url="https://hub.example/commit/1")

    def named(self, name: str) -> list[tuple[tuple, dict]]:
        return [(args, kwargs) for call, args, kwargs in self.calls if call == name]


def not_found(filename: str) -> RemoteEntryNotFoundError:
    response = SimpleNamespace(headers={}, request=None)
    return RemoteEntryNotFoundError(f"{filename} not in the repo", response=response)


def front_matter(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


REMOTE_CARD = """---
license: mit
extra_gated_prompt: Agree to the MovieLens terms.
configs:
- config_name: eval
  data_files: old/eval-*.parquet
- config_name: dpo
  data_files:
  - split: train
    path: dpo/train-*.parquet
---

# An older card body
"""


def test_dry_run_plans_every_file_and_calls_nothing(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApi(tmp_path)
    plan = publish(built, "me/ml-100k-iot", private=True, dry_run=True, api=api)
    manifest = json.loads((built / "MANIFEST.json").read_text())

    assert api.calls == []
    assert [f.path for f in plan.files] == [*manifest["files"], "MANIFEST.json"]
    for planned in plan.files:
        assert planned.sha256 == sha256_file(built / planned.path)
        assert planned.bytes == (built / planned.path).stat().st_size
    assert plan.repo_exists is None
    assert plan.card == (built / "README.md").read_text(encoding="utf-8")

    def no_api(**kwargs):
        raise AssertionError("a dry run must not create an HfApi")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_api)
    text = format_plan(publish(built, "me/ml-100k-iot", private=True, dry_run=True))
    for planned in plan.files:
        assert planned.path in text and planned.sha256[:12] in text
    assert "remote card not checked in dry run" in text
    assert text.endswith("dry run: nothing uploaded")


def test_publish_creates_repo_and_makes_one_commit(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApi(tmp_path)
    tokens: list[str | None] = []

    def make_api(token: str | None = None) -> FakeApi:
        tokens.append(token)
        return api

    monkeypatch.setattr(huggingface_hub, "HfApi", make_api)
    plan = publish(built, "me/ml-100k-iot", private=True, token="hf_not_a_real_token")

    assert tokens == ["hf_not_a_real_token"]
    assert [call for call, _, _ in api.calls] == ["repo_exists", "create_repo", "create_commit"]
    [(args, kwargs)] = api.named("create_repo")
    assert args == ("me/ml-100k-iot",)
    assert kwargs == {"repo_type": "dataset", "private": True, "exist_ok": True}
    [(args, kwargs)] = api.named("create_commit")
    assert args == ("me/ml-100k-iot",) and kwargs["repo_type"] == "dataset"
    assert kwargs["commit_message"] == plan.commit_message
    operations = kwargs["operations"]
    assert all(isinstance(op, CommitOperationAdd) for op in operations)
    assert {op.path_in_repo: op.upload_info.sha256.hex() for op in operations} == {
        f.path: f.sha256 for f in plan.files
    }
    assert len(operations) == len(plan.files) == 9  # 7 Parquet files, the card, the manifest
    # Without a remote card ours goes up byte for byte.
    assert plan.card == (built / "README.md").read_text(encoding="utf-8")
    assert plan.repo_exists is False and plan.commit_url == "https://hub.example/commit/1"
    assert "hf_not_a_real_token" not in repr(plan) + format_plan(plan)


def test_publish_merges_the_remote_card(built: Path, tmp_path: Path) -> None:
    api = FakeApi(tmp_path, card=REMOTE_CARD, exists=True)
    plan = publish(built, "me/ml-100k-iot", gated="manual", api=api)

    [(_, kwargs)] = api.named("create_commit")
    [card_op] = [op for op in kwargs["operations"] if op.path_in_repo == "README.md"]
    assert card_op.path_or_fileobj == plan.card.encode("utf-8")
    names = [c["config_name"] for c in front_matter(plan.card)["configs"]]
    assert names == ["items", "interactions", "eval", "sft", "rl", "dpo"]
    assert "kept its configs: dpo" in plan.card_note
    assert plan.repo_exists is True


def test_publish_existing_repo_without_card(built: Path, tmp_path: Path) -> None:
    api = FakeApi(tmp_path, exists=True)
    plan = publish(built, "me/ml-100k-iot", private=True, api=api)
    assert [call for call, _, _ in api.calls] == [
        "repo_exists",
        "hf_hub_download",
        "create_repo",
        "create_commit",
    ]
    assert plan.card == (built / "README.md").read_text(encoding="utf-8")


def test_unreadable_remote_card_stops_the_upload(built: Path, tmp_path: Path) -> None:
    # Taking a failed download for "no card" would overwrite the configs published there.
    error = LocalEntryNotFoundError("connection error and README.md not in the cache")
    api = FakeApi(tmp_path, exists=True, card_error=error)
    with pytest.raises(UserError, match="the Hub call failed"):
        publish(built, "me/ml-100k-iot", gated="manual", api=api)
    assert api.named("create_commit") == []


def test_merge_card_keeps_remote_only_configs_and_keys(built: Path) -> None:
    ours = (built / "README.md").read_text(encoding="utf-8")
    merged = merge_card(REMOTE_CARD, ours)
    data = front_matter(merged)
    configs = {c["config_name"]: c for c in data["configs"]}

    assert configs["dpo"]["data_files"] == [{"split": "train", "path": "dpo/train-*.parquet"}]
    assert configs["eval"] == {c["config_name"]: c for c in front_matter(ours)["configs"]}["eval"]
    assert data["extra_gated_prompt"] == "Agree to the MovieLens terms."
    assert data["license"] == front_matter(ours)["license"]
    assert "An older card body" not in merged
    assert merged.endswith(ours.split("\n---\n", 1)[1])
    assert merge_card(None, ours) == ours


@pytest.mark.parametrize("front", ["configs: [unclosed", "- a list, not a mapping"])
def test_unreadable_remote_front_matter(built: Path, tmp_path: Path, front: str) -> None:
    api = FakeApi(tmp_path, card=f"---\n{front}\n---\n# body\n", exists=True)
    with pytest.raises(UserError, match="unreadable YAML front matter"):
        publish(built, "me/ml-100k-iot", gated="manual", api=api)
    assert api.named("create_commit") == []


def test_tampered_file_is_named(copy: Path, tmp_path: Path) -> None:
    target = copy / "eval" / "test-00000-of-00001.parquet"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    api = FakeApi(tmp_path)
    with pytest.raises(UserError, match=r"test-00000-of-00001\.parquet.*rebuild"):
        publish(copy, "me/ml-100k-iot", gated="manual", api=api)
    assert api.calls == []


def test_missing_file_and_missing_manifest(copy: Path) -> None:
    (copy / "items" / "catalog-00000-of-00001.parquet").unlink()
    with pytest.raises(UserError, match=r"catalog-00000-of-00001\.parquet.*missing"):
        publish(copy, "me/ml-100k-iot", gated="manual", dry_run=True)
    (copy / "MANIFEST.json").unlink()
    with pytest.raises(UserError, match="not a dataset built by r2rec-bench"):
        publish(copy, "me/ml-100k-iot", gated="manual", dry_run=True)


@pytest.mark.parametrize(
    "repo_id", ["ml-100k-iot", "a/b/c", "me/ml 100k", "me/bad--name", "/name", "me/name.git", ""]
)
def test_bad_repo_id(built: Path, repo_id: str) -> None:
    with pytest.raises(UserError, match="ORG/NAME"):
        publish(built, repo_id, dry_run=True)


def test_hub_failure_is_one_line(built: Path, tmp_path: Path) -> None:
    api = FakeApi(tmp_path)

    def refuse(*args, **kwargs):
        raise OSError("connection reset\nsecond line")

    api.create_commit = refuse
    with pytest.raises(UserError) as caught:
        publish(built, "me/ml-100k-iot", gated="manual", api=api)
    assert "connection reset" in str(caught.value) and "\n" not in str(caught.value)


def test_dataset_info_local(built: Path) -> None:
    info = dataset_info(str(built))
    assert info["dataset"] == "ml-100k-iot"
    assert info["steps"][0] == {
        "step": "raw log",
        "interactions": 100_000,
        "users": 943,
        "items": 1_682,
    }
    assert {(s["config"], s["split"]) for s in info["splits"]} == {
        ("items", "catalog"),
        ("interactions", "train"),
        ("eval", "validation"),
        ("eval", "test"),
        ("sft", "train"),
        ("sft", "validation"),
        ("rl", "train"),
    }
    assert info["source"]["name"] == "MovieLens-100K"
    json.dumps(info)  # the CLI's --json prints it as is

    text = format_info(info)
    for expected in ["100,000", "943", "1,682", info["fingerprint"], "raw log", "validation"]:
        assert expected in text


def test_dataset_info_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="build it with `r2rec-bench build`"):
        dataset_info(str(tmp_path))
    with pytest.raises(UserError, match="not a Hub repo id"):
        dataset_info(str(tmp_path / "no" / "such" / "dir"))


def test_dataset_info_from_the_hub(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[tuple] = []

    def download(repo_id: str, filename: str, **kwargs) -> str:
        requests.append((repo_id, filename, kwargs))
        return str(built / filename)

    monkeypatch.chdir(built.parent)  # so that "me/ml-100k-iot" is no local path
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    info = dataset_info("me/ml-100k-iot")
    assert requests == [("me/ml-100k-iot", "MANIFEST.json", {"repo_type": "dataset"})]
    assert info["location"] == "hub" and info["steps"][0]["interactions"] == 100_000

    def unreachable(*args, **kwargs):
        raise LocalEntryNotFoundError("offline and not cached\nmore detail")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(UserError, match=r"cannot read MANIFEST\.json from the Hub") as caught:
        dataset_info("me/ml-100k-iot")
    assert "\n" not in str(caught.value)

    def missing(*args, **kwargs):
        raise not_found("MANIFEST.json")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", missing)
    with pytest.raises(UserError, match="r2rec-bench did not publish it"):
        dataset_info("me/ml-100k-iot")


def test_a_manifest_nested_too_deep_is_one_line(ml100k_build, tmp_path):
    from tests.conftest import run_cli

    copy = tmp_path / "deep"
    shutil.copytree(ml100k_build, copy)
    (copy / "MANIFEST.json").write_text('{"a":' * 200_000 + "1" + "}" * 200_000)
    for args in (["publish", str(copy), "--repo-id", "org/name", "--dry-run"],
                 ["data", "info", str(copy)]):  # fmt: skip
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr[-500:]
        assert result.stderr.strip().splitlines() == [
            f"r2rec-bench: error: {copy / 'MANIFEST.json'}: JSON nested too deep to be a "
            "manifest; rebuild it with `r2rec-bench build`"
        ]


def test_publish_never_follows_a_link_out_of_the_dataset(ml100k_build, tmp_path):
    from tests.conftest import run_cli

    copy = tmp_path / "linked"
    shutil.copytree(ml100k_build, copy)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the Hub")
    card = copy / "README.md"
    text = card.read_bytes()
    card.unlink()
    # The link points at a file with the card's very bytes, so that only the link is wrong.
    secret.write_bytes(text)
    card.symlink_to(secret)
    result = run_cli("publish", str(copy), "--repo-id", "org/name", "--dry-run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"r2rec-bench: error: {card}: a symbolic link; publish uploads plain files of the "
        "dataset folder only; rebuild it with `r2rec-bench build`"
    ]


def test_a_source_that_restricts_redistribution_is_published_gated_or_private(
    built: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match=r"MovieLens-100K restrict redistribution; .*--gated"):
        publish(built, "me/ml-100k-iot", dry_run=True)
    api = FakeApi(tmp_path)
    plan = publish(built, "me/ml-100k-iot", gated="manual", api=api)
    order = [call for call, _, _ in api.calls]
    assert order.index("update_repo_settings") < order.index("create_commit")
    assert api.named("update_repo_settings") == [
        (("me/ml-100k-iot",), {"repo_type": "dataset", "gated": "manual"})
    ]
    meta = front_matter(plan.card)
    assert meta["license_link"].endswith("ml-100k-README.txt")
    assert meta["license_link"] in meta["extra_gated_prompt"]
    assert "arxiv.org/abs/2506.05069" in plan.card
    assert "gated (manual)" in format_plan(plan)
    (card_entry,) = [f for f in plan.files if f.path == "README.md"]
    assert card_entry.bytes == len(plan.card.encode())  # the plan names the gated card
    private = publish(built, "me/ml-100k-iot", private=True, dry_run=True)
    assert private.gated is None and "extra_gated_prompt" not in private.card
    with pytest.raises(UserError, match="--gated always: use auto"):
        publish(built, "me/ml-100k-iot", gated="always", dry_run=True)
