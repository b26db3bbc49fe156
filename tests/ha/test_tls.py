"""rediss:// with a CA made here, client certificates, and a wrong CA: real parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ha_support import needs_tls_redis, run_part, runs

from redis_runner.ha import ConfiguredRedis, TlsFiles, make_tls_files
from resque_enqueuer.app import create_app
from resque_enqueuer.config import Config

pytestmark = needs_tls_redis


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("other-ca"))


@pytest.fixture(scope="module")
def server(tls: TlsFiles) -> Iterator[ConfiguredRedis]:
    """TLS only (no plain port), and every client must show a certificate."""
    with ConfiguredRedis(tls=tls, tls_auth_clients=True) as redis_server:
        yield redis_server


def tls_env(server: ConfiguredRedis, tls: TlsFiles, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": server.url,
        "REDIS_TLS_CA_FILE": str(tls.ca_cert),
        "REDIS_TLS_CERT_FILE": str(tls.client_cert),
        "REDIS_TLS_KEY_FILE": str(tls.client_key),
        **extra,
    }


def enqueue(env: dict[str, str], token: str) -> None:
    """POST /jobs through an enqueuer app configured by ``env`` alone."""
    app = create_app(Config.from_env(env))
    response = app.test_client().post(
        "/jobs", json={"queue": "ha", "class": "Record", "args": [token]}
    )
    assert response.status_code == 202, response.get_data(as_text=True)


def burst(env: dict[str, str], runs_file: Path) -> tuple[int, str]:
    result = run_part("worker", {**env, "QUEUES": "ha", "RESQUE_JOBS": "ha_jobs",
                                 "HA_RUNS_FILE": str(runs_file)}, "--burst")  # fmt: skip
    return result.returncode, result.stderr


def test_a_job_goes_through_tls_with_a_client_certificate(
    server: ConfiguredRedis, tls: TlsFiles, tmp_path: Path
) -> None:
    env = tls_env(server, tls)
    assert server.url.startswith("rediss://")
    enqueue(env, "over-tls")
    code, stderr = burst(env, tmp_path / "runs")
    assert code == 0, stderr
    assert [token for token, _, _ in runs(tmp_path / "runs")] == ["over-tls"]


def test_verification_can_be_turned_off(
    server: ConfiguredRedis, tls: TlsFiles, other_ca: TlsFiles, tmp_path: Path
) -> None:
    env = tls_env(server, tls, REDIS_TLS_CA_FILE=str(other_ca.ca_cert), REDIS_TLS_VERIFY="none")
    enqueue(env, "unverified")
    code, stderr = burst(env, tmp_path / "runs")
    assert code == 0, stderr
    assert [token for token, _, _ in runs(tmp_path / "runs")] == ["unverified"]


@pytest.mark.parametrize("part", ["worker", "scheduler", "enqueuer", "frontend"])
def test_a_wrong_ca_is_a_one_line_startup_error(
    part: str, server: ConfiguredRedis, tls: TlsFiles, other_ca: TlsFiles
) -> None:
    env = tls_env(server, tls, REDIS_TLS_CA_FILE=str(other_ca.ca_cert), QUEUES="ha")
    result = run_part(part, env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"resque-{part}: TLS with Redis at {server.url} failed")
    assert "certificate verify failed" in lines[0]


def test_without_a_client_certificate_the_server_says_no(
    server: ConfiguredRedis, tls: TlsFiles
) -> None:
    env = {"REDIS_URL": server.url, "REDIS_TLS_CA_FILE": str(tls.ca_cert), "QUEUES": "ha"}
    result = run_part("worker", env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"resque-worker: TLS with Redis at {server.url} failed")


def test_a_bad_tls_file_is_a_configuration_error(server: ConfiguredRedis, tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    for part in ("worker", "scheduler", "enqueuer", "frontend"):
        result = run_part(part, {"REDIS_URL": server.url, "REDIS_TLS_CA_FILE": str(junk),
                                 "QUEUES": "ha"})  # fmt: skip
        assert result.returncode == 2, (part, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"REDIS_TLS_CA_FILE: {junk} is not a PEM file" in result.stderr
