"""Integration: the real ``resque-enqueuer`` command (gunicorn + gevent workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from redis_runner.server import RedisServer
from resque_proto import Resque
from resque_proto.payload import decode_payload
from resque_proto.version import VERSION

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def post(url: str, path: str, document: Any, **headers: str) -> requests.Response:
    return requests.post(url + path, json=document, headers=headers, timeout=30)


def queued_ids(client: redis.Redis, queue: str) -> list[str]:
    return [
        decode_payload(raw).extras["id"] for raw in client.lrange(f"resque:queue:{queue}", 0, -1)
    ]


def test_concurrent_requests_enqueue_every_job_exactly_once(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=2)

    def one(i: int) -> list[str]:
        if i % 5 == 0:
            jobs = [{**JOB, "args": [i, n]} for n in range(10)]
            answer = post(enqueuer.url, "/jobs/batch", {"jobs": jobs})
            assert answer.status_code == 202, answer.text
            return [job["id"] for job in answer.json()["jobs"]]
        answer = post(enqueuer.url, "/jobs", {**JOB, "args": [i]})
        assert answer.status_code == 202, answer.text
        return [answer.json()["id"]]

    with ThreadPoolExecutor(max_workers=24) as pool:
        answered = [job_id for ids in pool.map(one, range(300)) for job_id in ids]

    stored = queued_ids(redis_client, "file_serve")
    assert len(answered) == 240 + 60 * 10
    assert sorted(stored) == sorted(answered)
    assert len(set(stored)) == len(stored)


def test_concurrent_retries_with_one_key_enqueue_once(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=2)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda _: post(enqueuer.url, "/jobs", JOB, **{"Idempotency-Key": "pay-7"}),
                range(40),
            )
        )

    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert queued_ids(redis_client, "file_serve") == [answers[0].json()["id"]]


def test_concurrent_retries_of_a_mixed_batch_write_each_job_once(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=2)
    batch = {"jobs": [JOB, {**JOB, "delay_seconds": 600}, {**JOB, "delay_seconds": 900}]}

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda _: post(enqueuer.url, "/jobs/batch", batch, **{"Idempotency-Key": "b-7"}),
                range(40),
            )
        )

    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    jobs = answers[0].json()["jobs"]
    assert queued_ids(redis_client, "file_serve") == [jobs[0]["id"]]
    delayed = Resque(redis_client).delayed
    filed = [raw for second, _ in delayed.timestamps() for raw in delayed.jobs_at(second)]
    assert [json.loads(raw)["id"] for raw in filed] == [jobs[1]["id"], jobs[2]["id"]]


def raw_request(url: str, head: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(head.encode())
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def expect_continue(url: str, body: bytes) -> socket.socket:
    """Send a request's head only, and return once a worker is handling it."""
    sock = raw_request(
        url,
        "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")
    return sock


def test_term_finishes_in_flight_requests_then_exits(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=1)
    body = json.dumps(JOB).encode()
    sock = expect_continue(enqueuer.url, body)

    enqueuer.process.send_signal(signal.SIGTERM)
    sock.sendall(body)
    answer = read_until(sock, b"}")
    sock.close()

    assert answer.startswith(b"HTTP/1.1 202"), answer
    assert enqueuer.process.wait(60) == 0
    assert redis_client.llen("resque:queue:file_serve") == 1


def test_redis_calls_do_not_block_other_requests(start_enqueuer: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    enqueuer = start_enqueuer(server.url, workers=1, ENQUEUER_REDIS_TIMEOUT="60")
    assert server.process is not None
    body = json.dumps(JOB).encode()
    answers: list[bytes] = []
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        sock = expect_continue(enqueuer.url, body)
        sock.sendall(body)
        waiting = threading.Thread(target=lambda: answers.append(read_until(sock, b"}")))
        waiting.start()
        for _ in range(20):
            assert requests.get(enqueuer.url + "/healthz", timeout=10).status_code == 200
        assert waiting.is_alive(), "the POST finished while Redis was stopped"
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    waiting.join(60)
    sock.close()
    assert answers[0].startswith(b"HTTP/1.1 202"), answers


def chunks(total: int) -> Iterator[bytes]:
    yield b'{"queue":"q","class":"A","args":["'
    for _ in range(total // 1000):
        yield b"x" * 1000
    yield b'"]}'


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=1, ENQUEUER_MAX_BODY_BYTES="10000")
    headers = {"Content-Type": "application/json"}

    small = requests.post(enqueuer.url + "/jobs", data=chunks(5000), headers=headers, timeout=30)
    large = requests.post(enqueuer.url + "/jobs", data=chunks(50000), headers=headers, timeout=30)

    assert small.status_code == 202, small.text
    assert large.status_code == 413
    assert large.headers["Content-Type"] == "application/problem+json"
    assert redis_client.llen("resque:queue:q") == 1


def test_redis_stopped_mid_run_gives_503_and_the_service_recovers(
    start_enqueuer: Any, fresh_redis: Any
) -> None:
    server: RedisServer = fresh_redis()
    enqueuer = start_enqueuer(server.url, workers=2)
    assert post(enqueuer.url, "/jobs", JOB).status_code == 202

    # A clean stop (TERM): Redis fsyncs its AOF, so the job above survives. A crash
    # (KILL) with appendfsync everysec may lose the last second (docs/redis.md).
    server.kill(graceful=True)
    down = post(enqueuer.url, "/jobs", JOB)
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "1"
    assert down.headers["Content-Type"] == "application/problem+json"
    assert requests.get(enqueuer.url + "/readyz", timeout=10).status_code == 503

    server.start()
    assert requests.get(enqueuer.url + "/readyz", timeout=10).status_code == 200
    for _ in range(4):  # every worker's pool recovers
        assert post(enqueuer.url, "/jobs", JOB).status_code == 202
    client = redis.Redis.from_url(server.url)
    assert client.llen("resque:queue:file_serve") == 5
    client.close()


def healthz_count(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    line = 'resque_enqueuer_http_requests_total{method="GET",route="/healthz",status="200"} '
    [value] = [row[len(line) :] for row in text.splitlines() if row.startswith(line)]
    return float(value)


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def get_healthz(url: str, times: int) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: requests.get(url + "/healthz", timeout=10), range(times)))
    assert {a.status_code for a in answers} == {200}


def test_metrics_add_up_across_worker_processes(
    start_enqueuer: Any, redis_url: str, tmp_path: Path, poll: Any
) -> None:
    """Requests answered by workers that have since been replaced still count."""
    enqueuer = start_enqueuer(redis_url, workers=2)
    master = enqueuer.process.pid
    before = healthz_count(enqueuer.url)  # the start-up probe made at least one
    get_healthz(enqueuer.url, 30)
    old_workers = children(master)

    enqueuer.process.send_signal(signal.SIGHUP)  # gunicorn replaces every worker
    poll(lambda: len(children(master) - old_workers) == 2, 60, "new workers")
    poll(lambda: old_workers.isdisjoint(children(master)), 60, "old workers to exit")
    get_healthz(enqueuer.url, 30)

    assert healthz_count(enqueuer.url) == before + 60
    writers = {p.stem.rsplit("_", 1)[-1] for p in tmp_path.glob("metrics-*/counter_*.db")}
    assert len(writers) >= 2, writers


def test_logs_are_json_lines_with_request_ids_and_the_open_api_warning(
    start_enqueuer: Any, redis_url: str
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=1, ENQUEUER_LOG_LEVEL="info")
    answer = post(enqueuer.url, "/jobs", JOB, **{"X-Request-Id": "trace-9"})
    assert answer.status_code == 202
    enqueuer.terminate()

    entries = [json.loads(line) for line in enqueuer.log().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg", "pid"} <= e.keys() for e in entries), entries
    assert any("no ENQUEUER_TOKENS" in e["msg"] for e in entries)
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["msg"] for e in entries)
    assert any("ENQUEUER_LOG_LEVEL is deprecated" in e["msg"] for e in entries)
    [access] = [e for e in entries if e.get("request_id") == "trace-9"]
    assert (access["method"], access["path"], access["status"]) == ("POST", "/jobs", 202)
    assert access["logger"] == "gunicorn.access"


def test_text_logs_and_the_level_apply_to_gunicorns_lines_too(
    start_enqueuer: Any, redis_url: str
) -> None:
    enqueuer = start_enqueuer(
        redis_url, workers=1, RESQUE_LOG_FORMAT="text", RESQUE_LOG_LEVEL="warning"
    )
    assert post(enqueuer.url, "/jobs", JOB).status_code == 202
    enqueuer.terminate()

    lines = enqueuer.log().splitlines()
    assert any(" WARNING " in line and "no ENQUEUER_TOKENS" in line for line in lines), lines
    assert not any("Booting worker" in line or "POST /jobs" in line for line in lines), lines
    assert not any(line.startswith("{") for line in lines), lines


def test_metrics_carry_the_build_info(start_enqueuer: Any, redis_url: str) -> None:
    enqueuer = start_enqueuer(redis_url, workers=1)
    text = requests.get(enqueuer.url + "/metrics", timeout=10).text

    [line] = [row for row in text.splitlines() if row.startswith("resque_build_info{")]
    assert 'part="enqueuer"' in line and f'version="{VERSION}"' in line
    assert line.endswith(" 1.0")


def test_tokens_from_a_mounted_file(start_enqueuer: Any, redis_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("mounted-token\n")
    enqueuer = start_enqueuer(redis_url, workers=1, ENQUEUER_TOKENS_FILE=str(token_file))

    assert post(enqueuer.url, "/jobs", JOB).status_code == 401
    accepted = post(enqueuer.url, "/jobs", JOB, Authorization="Bearer mounted-token")
    assert accepted.status_code == 202
