"""``r2rec-bench publish``: upload a build directory to a Hub dataset repo in one commit.

Several builds may share a repo (the evaluation configs here, ``sft``/``rl`` from a reasoning
build), so the card is merged with the one already on the Hub rather than overwriting its
``configs:``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.hashing import sha256_file
from r2rec_bench.task.dataset import CARD, MANIFEST, REBUILD, check_repo_id, read_manifest


@dataclass(frozen=True)
class PlannedFile:
    path: str  # in the repo, the same as in the build directory
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PublishPlan:
    """What ``publish`` uploads (or would, in a dry run); holds no token."""

    repo_id: str
    directory: Path
    files: tuple[PlannedFile, ...]
    commit_message: str
    card: str  # the README.md that is uploaded, after merging with the remote card
    card_note: str
    repo_exists: bool | None  # None: not checked (dry run)
    private: bool
    dry_run: bool
    gated: str | None = None  # "auto" or "manual": users request access and accept the terms
    commit_url: str | None = None


def merge_card(existing_text: str | None, new_text: str) -> str:
    """Our card, keeping what another build put in the remote card.

    ``configs:`` becomes ours followed by the remote configs whose ``config_name`` we lack; other
    remote YAML keys we lack are kept; for keys both have, and for the markdown body, ours win.
    Raises ``ValueError`` when ``existing_text`` has a front matter that is not a YAML mapping.
    """
    if existing_text is None:
        return new_text
    import yaml
    from huggingface_hub import DatasetCard, DatasetCardData

    ours_card = DatasetCard(new_text)
    ours = ours_card.data.to_dict()
    try:
        theirs = DatasetCard(existing_text, ignore_metadata_errors=True).data.to_dict()
    except yaml.YAMLError as exc:  # the card parser lets these through; callers expect one type
        raise ValueError(one_line(exc, with_type=True)) from exc
    our_configs = ours.get("configs") or []
    our_names = {config["config_name"] for config in our_configs}
    kept = [
        config
        for config in theirs.get("configs") or []
        if isinstance(config, dict) and config.get("config_name") not in our_names
    ]
    merged = {**theirs, **ours}
    if our_configs or kept:
        merged["configs"] = [*our_configs, *kept]
    ours_card.data = DatasetCardData(**merged)
    return str(ours_card)


def _config_names(card_text: str) -> list[str]:
    from huggingface_hub import DatasetCard

    configs = DatasetCard(card_text, ignore_metadata_errors=True).data.to_dict().get("configs")
    return [str(c.get("config_name")) for c in configs or [] if isinstance(c, dict)]


def _verified_files(directory: Path, manifest: dict) -> list[PlannedFile]:
    """Every file the manifest lists, checked against its sha256, then the manifest itself."""
    listed = manifest.get("files")
    manifest_path = directory / MANIFEST
    if not isinstance(listed, dict) or CARD not in listed:
        raise UserError(f"{manifest_path}: no `files` entry listing {CARD}; {REBUILD}")
    files = []
    for path, entry in listed.items():
        parts = PurePosixPath(path)
        if parts.is_absolute() or ".." in parts.parts:
            raise UserError(f"{manifest_path}: file `{path}` lies outside the dataset; {REBUILD}")
        local = directory / path
        # A link would upload whatever it points at, possibly from outside the dataset.
        if any(p.is_symlink() for p in [local, *local.parents] if p.is_relative_to(directory)):
            raise UserError(
                f"{local}: a symbolic link; publish uploads plain files of the dataset folder "
                f"only; {REBUILD}"
            )
        if not local.is_file():
            raise UserError(f"{local}: listed in {MANIFEST} but missing; {REBUILD}")
        digest = sha256_file(local)
        if not isinstance(entry, dict) or digest != entry.get("sha256"):
            raise UserError(
                f"{local}: sha256 differs from {MANIFEST} (changed after the build); {REBUILD}"
            )
        files.append(PlannedFile(path, local.stat().st_size, digest))
    files.append(PlannedFile(MANIFEST, manifest_path.stat().st_size, sha256_file(manifest_path)))
    return files


@contextmanager
def _hub_errors(repo_id: str) -> Iterator[None]:
    from huggingface_hub.errors import HTTPError

    try:
        yield
    except (OSError, HTTPError) as exc:  # HTTP status, connection and offline-mode errors
        raise UserError(
            f"{repo_id}: the Hub call failed ({one_line(exc, with_type=True)}); check the "
            "network and your token (`hf auth login` or HF_TOKEN)"
        ) from None


def _remote_card(api: Any, repo_id: str) -> str | None:
    from huggingface_hub.errors import RemoteEntryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, CARD, repo_type="dataset")
    except RemoteEntryNotFoundError:  # not the local variant: a failed download must not
        return None  # pass for "no card", or the upload would drop the remote configs
    return Path(path).read_text(encoding="utf-8")


GATED = ("auto", "manual")


def _with_card(files: list[PlannedFile], card_bytes: bytes) -> list[PlannedFile]:
    """The planned files with the card that is uploaded instead of the built one."""
    entry = PlannedFile(CARD, len(card_bytes), hashlib.sha256(card_bytes).hexdigest())
    return [entry if f.path == CARD else f for f in files]


def gate_card(card_text: str, source: str) -> str:
    """The card with the Hub's access-request prompt: a visitor reads the source's terms
    (``license_link`` of the card) and accepts them before the files are served."""
    from huggingface_hub import DatasetCard

    card = DatasetCard(card_text)
    terms = card.data.to_dict().get("license_link") or "the license section of this card"
    card.data.extra_gated_prompt = (
        f"This dataset is derived from {source}, whose terms restrict redistribution "
        f"({terms}). Request access only if you accept them: research use, no "
        "commercial use, cite the source, no further redistribution."
    )
    card.data.extra_gated_fields = {"I accept the terms of the source data": "checkbox"}
    return str(card)


def publish(
    directory: Path,
    repo_id: str,
    *,
    private: bool = False,
    gated: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    api: Any = None,
) -> PublishPlan:
    """Upload the build in ``directory`` to the dataset repo ``repo_id`` in one commit.

    ``api`` stands in for ``huggingface_hub.HfApi`` (tests pass a fake); ``token`` is used only
    to create one when ``api`` is None. A dry run makes no Hub call at all.
    """
    directory = Path(directory)
    check_repo_id(repo_id)
    if gated is not None and gated not in GATED:
        raise UserError(f"--gated {gated}: use auto (access granted on request) or manual")
    manifest = read_manifest(directory)
    files = _verified_files(directory, manifest)
    source = manifest.get("source") or {}
    if source.get("redistribution") == "restricted" and not (gated or private):
        raise UserError(
            f"{directory}: the terms of {source.get('name', 'its source data')} restrict "
            "redistribution; publish it with --gated manual (visitors accept the terms "
            "before download) or --private"
        )
    # Bytes, not text mode: the card is uploaded exactly as built, newlines included.
    local_card = (directory / CARD).read_bytes().decode("utf-8")
    if gated:
        local_card = gate_card(local_card, source.get("name", "its source data"))
        files = _with_card(files, local_card.encode("utf-8"))
    fingerprint = str(manifest.get("fingerprint", ""))
    message = (
        f"Publish {manifest.get('dataset')} (builder {manifest.get('builder_version')}, "
        f"fingerprint {fingerprint[:12]}) with r2rec-bench {manifest.get('r2rec_bench_version')}"
    )
    plan = PublishPlan(
        repo_id=repo_id,
        directory=directory,
        files=tuple(files),
        commit_message=message,
        card=local_card,
        card_note="remote card not checked in dry run",
        repo_exists=None,
        private=private,
        dry_run=dry_run,
        gated=gated,
    )
    if dry_run:
        return plan

    from huggingface_hub import CommitOperationAdd

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    with _hub_errors(repo_id):
        exists = bool(api.repo_exists(repo_id, repo_type="dataset"))
        remote = _remote_card(api, repo_id) if exists else None
    try:
        card = merge_card(remote, local_card)
    except ValueError as exc:
        raise UserError(
            f"{repo_id}: the {CARD} on the Hub has unreadable YAML front matter ({exc}); "
            "fix or delete it there, then publish again"
        ) from None
    if remote is None:
        note = "no card on the Hub; uploading ours"
    else:
        ours = set(_config_names(local_card))
        kept = [name for name in _config_names(card) if name not in ours]
        note = "merged with the card on the Hub" + (
            f" (kept its configs: {', '.join(kept)})" if kept else ""
        )
    card_bytes = card.encode("utf-8")
    files = _with_card(files, card_bytes)
    operations = [
        CommitOperationAdd(
            path_in_repo=f.path,
            path_or_fileobj=card_bytes if f.path == CARD else directory / f.path,
        )
        for f in files
    ]
    with _hub_errors(repo_id):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if gated:
            # Before the files land, so that they are never served ungated.
            api.update_repo_settings(repo_id, repo_type="dataset", gated=gated)
        commit = api.create_commit(
            repo_id, repo_type="dataset", operations=operations, commit_message=message
        )
    return replace(
        plan,
        files=tuple(files),
        card=card,
        card_note=note,
        repo_exists=exists,
        commit_url=getattr(commit, "commit_url", None),
    )


def _size(n: int) -> str:
    exponent = 0
    while exponent < 3 and n >= 1024 ** (exponent + 1):
        exponent += 1
    if exponent == 0:
        return f"{n} B"
    return f"{n / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"


def format_plan(plan: PublishPlan) -> str:
    """The plan as text: one line per file (path, size, sha256 prefix), then the target."""
    width = max(len(f.path) for f in plan.files)
    lines = [f"{f.path:<{width}}  {_size(f.bytes):>10}  {f.sha256[:12]}" for f in plan.files]
    total = sum(f.bytes for f in plan.files)
    state = {None: "", True: ", exists", False: ", will be created"}[plan.repo_exists]
    lines += [
        f"{len(plan.files)} files, {_size(total)}",
        f"target: dataset repo {plan.repo_id} ({'private' if plan.private else 'public'}"
        f"{f', gated ({plan.gated})' if plan.gated else ''}{state})",
        f"commit: {plan.commit_message}",
        f"card:   {plan.card_note}",
    ]
    if plan.dry_run:
        lines.append("dry run: nothing uploaded")
    elif plan.commit_url:
        lines.append(f"uploaded: {plan.commit_url}")
    return "\n".join(lines)
