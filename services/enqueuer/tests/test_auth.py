"""Bearer tokens (environment or file) and queue/class allow-lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from resque_enqueuer.config import Config
from resque_proto.settings import SettingError

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic c2VjcmV0"}, bearer("wrong")],
)
def test_a_missing_or_wrong_token_is_a_401_and_writes_nothing(
    make_app: Any, redis_client: redis.Redis, headers: dict[str, str]
) -> None:
    client = make_app(tokens=("s3cret", "other")).test_client()

    response = client.post("/jobs", json=JOB, headers=headers)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert redis_client.keys("*") == []


def test_any_configured_token_is_accepted(make_app: Any) -> None:
    client = make_app(tokens=("s3cret", "other")).test_client()

    assert client.post("/jobs", json=JOB, headers=bearer("other")).status_code == 202
    assert client.post("/jobs", json=JOB, headers=bearer("s3cret")).status_code == 202


def test_health_openapi_and_metrics_need_no_token(make_app: Any) -> None:
    client = make_app(tokens=("s3cret",)).test_client()

    for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_tokens_come_from_the_environment_and_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# rotated 2026-11\nfrom-file\n\n  spaced  \n")

    assert Config.from_env({"ENQUEUER_TOKENS": "a, b,,"}).tokens == ("a", "b")
    from_file = Config.from_env({"ENQUEUER_TOKENS_FILE": str(token_file)})
    assert from_file.tokens == ("from-file", "spaced")
    with pytest.raises(SettingError, match="ENQUEUER_TOKENS and ENQUEUER_TOKENS_FILE are both"):
        Config.from_env({"ENQUEUER_TOKENS": "a", "ENQUEUER_TOKENS_FILE": str(token_file)})


def test_allow_lists_refuse_other_queues_and_classes_with_403(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(allowed_queues=("file_*", "mail"), allowed_classes=("Archive",)).test_client()

    assert client.post("/jobs", json=JOB).status_code == 202
    denied = client.post("/jobs", json={"queue": "admin", "class": "Archive"})
    assert denied.status_code == 403
    assert [e["field"] for e in denied.get_json()["errors"]] == ["queue"]
    assert client.post("/jobs", json={"queue": "mail", "class": "Purge"}).status_code == 403
    assert redis_client.llen("resque:queue:admin") == 0
    assert redis_client.llen("resque:queue:mail") == 0


def test_one_forbidden_item_refuses_the_whole_batch(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(allowed_classes=("Archive", "Billing::*")).test_client()
    jobs = [JOB, {"queue": "q", "class": "Billing::Invoice"}, {"queue": "q", "class": "Purge"}]

    response = client.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 403
    assert [e["field"] for e in response.get_json()["errors"]] == ["jobs[2].class"]
    assert redis_client.keys("*") == []
