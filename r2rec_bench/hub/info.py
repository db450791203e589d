"""``r2rec-bench data info``: what a built dataset holds, read from its MANIFEST.json (local or
Hub)."""

from __future__ import annotations

from pathlib import Path

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.task.dataset import (
    MANIFEST,
    REBUILD,
    REPO_ID,
    check_repo_id,
    parse_manifest,
    read_manifest,
)


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
            f"{repo_id}: cannot read {MANIFEST} from the Hub ({one_line(exc, with_type=True)})"
        ) from None
    return parse_manifest(Path(path).read_text(encoding="utf-8"), where)


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
    elif REPO_ID.fullmatch(target):
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
