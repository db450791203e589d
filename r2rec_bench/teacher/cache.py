"""The on-disk response cache of the language-model teachers: one JSON file per answer.

Key: sha256 of the canonical JSON of ``{"teacher", "identity", "messages", "params"}`` —
the transport (``openai`` or ``hf``), what identifies the model (its name as sent to the
endpoint; for a local model also the sha256 of its weights and the dtype), the full chat
messages and the generation parameters. The endpoint's address is not part of the key: the
same model served from another host or port answers the same.

Layout: ``<root>/<key[:2]>/<key>.json`` holding the key, the request and the reply with its
token counts. Each file is written to a temporary name and renamed as soon as its answer
arrives, so a build killed at any moment leaves only whole answers behind, and concurrent
writers never see each other's half-written files. One file per key, rather than an appended
log, keeps writes independent and lets a resumed build find any answer in one ``open``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.hashing import canonical_json


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int


class ResponseCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Reply | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            return Reply(entry["text"], entry["prompt_tokens"], entry["completion_tokens"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # damaged (say, by a disk that lost power): ask again and overwrite

    def put(self, key: str, request: dict, reply: Reply) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "key": key,
            "request": request,
            "text": reply.text,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        }
        # Unique per process and thread: two writers of one key never share a temporary file.
        temporary = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(canonical_json(entry), encoding="utf-8")
        os.replace(temporary, path)
