"""--push-to-hub: one upload of the output directory without its checkpoints; failures are
one line that says the model is safe on disk."""

from __future__ import annotations

from typing import ClassVar

import huggingface_hub
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.trainer.card import PUSH_IGNORE, push_model


class FakeApi:
    calls: ClassVar[list] = []
    fail = False

    def create_repo(self, repo_id, **options):
        FakeApi.calls.append(("create_repo", repo_id, options))

    def upload_folder(self, **options):
        if FakeApi.fail:
            raise OSError("401 Unauthorized\nmore detail")
        FakeApi.calls.append(("upload_folder", options["repo_id"], options))


@pytest.fixture
def fake_hub(monkeypatch):
    FakeApi.calls, FakeApi.fail = [], False
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi


def test_push_uploads_the_folder_without_checkpoints(fake_hub, tmp_path):
    url = push_model(tmp_path, "me/my-model", quiet=True)
    (_, repo, create), (_, _, upload) = fake_hub.calls
    assert repo == "me/my-model" and create["exist_ok"] and create["repo_type"] == "model"
    assert upload["folder_path"] == str(tmp_path)
    assert upload["ignore_patterns"] == PUSH_IGNORE
    assert "checkpoint-*/**" in PUSH_IGNORE and "base/**" in PUSH_IGNORE
    assert url.endswith("me/my-model")


def test_a_failed_push_is_one_line(fake_hub, tmp_path):
    fake_hub.fail = True
    with pytest.raises(UserError) as caught:
        push_model(tmp_path, "me/my-model", quiet=True)
    message = str(caught.value)
    assert "\n" not in message and "401 Unauthorized" in message and str(tmp_path) in message
