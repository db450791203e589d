"""``r2rec-bench info``: what a built dataset holds, read from its MANIFEST.json (local or Hub)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from r2rec_bench.errors import UserError, at
from r2rec_bench.render.dataset import MANIFEST, SCHEMA_VERSION

REBUILD = "rebuild with `r2rec-bench build`"
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REPO_ID = re.compile(f"{_REPO_PART}/{_REPO_PART}")


def check_repo_id(repo_id: str) -> None:
    """Raise ``UserError`` unless ``repo_id`` is a valid ``ORG/NAME`` Hub repo id."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    fix = "use ORG/NAME, e.g. r2rec/ml-100k-iot"
    if not _REPO_ID.fullmatch(repo_id):
        raise UserError(f"{repo_id!r}: not a Hub repo id; {fix}")
    try:  # the Hub's own rules beyond the shape: length, "--", "..", ".git"
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UserError(f"{repo_id!r}: not a valid Hub repo id ({exc}); {fix}") from None


def _parse_manifest(text: str, where: str) -> dict:
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{at(where, exc.lineno)}: not valid JSON ({exc.msg}); {REBUILD}") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{where}: not a JSON object; {REBUILD}")
    version = manifest.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise UserError(
            f"{where}: schema version {version} is newer than this r2rec-bench reads "
            f"({SCHEMA_VERSION}); upgrade r2rec-bench"
        )
    return manifest


def read_manifest(directory: Path) -> dict:
    """The parsed MANIFEST.json of a local build directory, or ``UserError`` saying why not."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    path = directory / MANIFEST
    if not path.is_file():
        raise UserError(
            f"{directory}: not a dataset built by r2rec-bench (no {MANIFEST}); "
            "build it with `r2rec-bench build`"
        )
    return _parse_manifest(path.read_text(encoding="utf-8"), str(path))


def verified_files(root: Path, manifest: dict, config: str, split: str) -> list[Path]:
    """The files of one config split as MANIFEST.json lists them, each checked to exist and
    to match its recorded sha256 ([] when the manifest lists none: the caller says why)."""
    from r2rec_bench.hashing import sha256_file

    entries = manifest.get("configs", [])
    relatives = sorted(
        c["path"] for c in entries if (c.get("config"), c.get("split")) == (config, split)
    )
    recorded = manifest.get("files", {})
    files = []
    for relative in relatives:
        path = Path(root) / relative
        if not path.is_file():
            raise UserError(f"{path}: listed in MANIFEST.json but missing; {REBUILD}")
        expected = recorded.get(relative, {}).get("sha256")
        if expected and sha256_file(path) != expected:
            raise UserError(
                f"{path}: content differs from its sha256 in MANIFEST.json (edited or "
                f"corrupt); {REBUILD}"
            )
        files.append(path)
    return files


def _hub_manifest(repo_id: str) -> dict:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError

    where = f"{repo_id} ({MANIFEST} on the Hub)"
    try:
        path = hf_hub_download(repo_id, MANIFEST, repo_type="dataset")
    except RepositoryNotFoundError:
        raise UserError(
            f"{repo_id}: no such local directory, and no dataset repo of that name on the Hub "
            "(or it is private: log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except RemoteEntryNotFoundError:  # the local variant means offline or unreachable
        raise UserError(
            f"{repo_id}: the Hub repo has no {MANIFEST}, so r2rec-bench did not publish it"
        ) from None
    except (OSError, HTTPError) as exc:  # offline mode, connection and other HTTP failures
        raise UserError(
            f"{repo_id}: cannot read {MANIFEST} from the Hub ({first_line(exc)})"
        ) from None
    return _parse_manifest(Path(path).read_text(encoding="utf-8"), where)


def first_line(exc: BaseException) -> str:
    """An exception as one line, so that Hub errors fit the CLI's one-line messages."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _field(manifest: dict, dotted: str, where: str):
    value = manifest
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise UserError(f"{where}: {MANIFEST} has no field `{dotted}`; {REBUILD}")
        value = value[key]
    return value


def dataset_info(target: str) -> dict:
    """Statistics of a dataset: ``target`` is a local build directory or a Hub repo id.

    A path that exists locally wins over a Hub repo of the same spelling.
    """
    path = Path(target).expanduser()
    if path.exists():
        manifest, where, kind = read_manifest(path), str(path / MANIFEST), "local"
    elif _REPO_ID.fullmatch(target):
        check_repo_id(target)
        manifest, where, kind = _hub_manifest(target), f"{target} ({MANIFEST})", "hub"
    else:
        raise UserError(f"{target}: no such directory, and not a Hub repo id (ORG/NAME)")
    return {
        "target": target,
        "location": kind,
        "dataset": _field(manifest, "dataset", where),
        "builder_version": _field(manifest, "builder_version", where),
        "r2rec_bench_version": manifest.get("r2rec_bench_version"),
        "fingerprint": _field(manifest, "fingerprint", where),
        "protocol": _field(manifest, "protocol", where),
        "source": {
            "name": _field(manifest, "source.name", where),
            "format": _field(manifest, "source.format", where),
            "files": _field(manifest, "source.files", where),
        },
        "statistics": {
            key: _field(manifest, f"statistics.{key}", where)
            for key in ("users", "items", "train_interactions", "title_changes")
        },
        "steps": _field(manifest, "statistics.steps", where),
        "splits": [
            {"config": c["config"], "split": c["split"], "rows": c["rows"]}
            for c in _field(manifest, "configs", where)
        ],
    }


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), *(line(r) for r in rows)]


def format_info(info: dict) -> str:
    """``dataset_info``'s result as aligned plain text."""
    stats = info["statistics"]
    versions = f"builder {info['builder_version']}"
    if info.get("r2rec_bench_version"):
        versions += f", r2rec-bench {info['r2rec_bench_version']}"
    source = info["source"]
    files = source["files"]
    names = max((len(name) for name in files), default=0)
    protocol = " ".join(f"{key}={value}" for key, value in info["protocol"].items())
    fields = [
        ("dataset", f"{info['dataset']} ({versions})"),
        ("from", f"{info['target']} ({info['location']})"),
        ("fingerprint", info["fingerprint"]),
        ("source", f"{source['name']} ({source['format']})"),
        *((" ", f"{name:<{names}}  sha256 {digest[:12]}") for name, digest in files.items()),
        ("protocol", protocol),
        (
            "result",
            f"{stats['users']:,} users, {stats['items']:,} items, "
            f"{stats['train_interactions']:,} training interactions, "
            f"{stats['title_changes']:,} titles changed",
        ),
    ]
    width = max(len(name) for name, _ in fields)
    lines = [f"{name.strip():<{width}}  {value}".rstrip() for name, value in fields]
    steps = [
        [s["step"], f"{s['interactions']:,}", f"{s['users']:,}", f"{s['items']:,}"]
        for s in info["steps"]
    ]
    splits = [[s["config"], s["split"], f"{s['rows']:,}"] for s in info["splits"]]
    lines += ["", *_table(["step", "interactions", "users", "items"], steps, {1, 2, 3})]
    lines += ["", *_table(["config", "split", "rows"], splits, {2})]
    return "\n".join(lines)
