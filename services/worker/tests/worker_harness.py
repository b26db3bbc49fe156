"""Helpers for worker tests: real ``resque-worker`` processes, job events, polling."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from redis_runner.polling import DEADLINE, wait_for
from resque_proto import Resque
from resque_proto.queue_patterns import parse_queue_list
from resque_proto.workers import make_worker_id


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path, args: list[str]) -> None:
        self.log_path = log_path
        self.env = env
        self.queues = env.get("QUEUES", "")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "resque_worker", *args], env=env, stderr=log
            )
        self.pid = self.process.pid
        self.id = make_worker_id(parse_queue_list(self.queues), self.pid)

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a traceback line, or a line still being written
        return entries

    def logged(self, message: str) -> bool:
        return any(entry.get("msg") == message for entry in self.logs())

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Events:
    """The JSON lines the test jobs append."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in self.all()
            if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
        ]  # fmt: skip


def wait_registered(resque: Resque, worker: WorkerProcess) -> None:
    wait_for(lambda: worker.id in resque.workers.ids(), what=f"{worker.id} registered")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


class Receiver:
    """A local HTTP endpoint that keeps every POST and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sentry_events(receiver: Receiver) -> list[dict[str, Any]]:
    """The events in the envelopes sentry-sdk POSTed (gzip or plain)."""
    found = []
    for path, headers, body in receiver.requests:
        if not path.startswith("/api/1/envelope/"):
            continue
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found
