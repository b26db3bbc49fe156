"""The Compose stack with ``--profile ha``: three Redis nodes, three Sentinels.

The services reach Redis through the Sentinels
(``REDIS_URL=redis+sentinel://sentinel-1:26379,.../resque/0``) and the enqueuer
acknowledges a job only once a replica has it (``ENQUEUER_MIN_REPLICAS=1``).
The test process reaches every node and Sentinel on the loopback ports
``compose.ha.e2e.yaml`` publishes, and finds the primary as the services do: by
asking the Sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import redis
import requests
from docker.models.containers import Container

from e2e_support.images import REPO
from e2e_support.stack import TOKEN, Stack
from resque_proto import Resque, connect

DATA_NODES = ("redis", "redis-2", "redis-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
MASTER = "resque"
SENTINEL_URL = (
    "redis+sentinel://" + ",".join(f"{name}:26379" for name in SENTINELS) + f"/{MASTER}/0"
)
HA_COMPOSE_FILE = REPO / "tests" / "e2e" / "compose.ha.e2e.yaml"


@dataclass(frozen=True)
class AppState:
    """What tells a container was never restarted nor replaced."""

    id: str
    started_at: str
    restarts: int


class HaStack(Stack):
    def __init__(self, workdir: Path, client: docker.DockerClient) -> None:
        super().__init__(
            workdir,
            client,
            name="ha",
            profiles=("ha",),
            extra_files=(HA_COMPOSE_FILE,),
            extra_env={
                "REDIS_URL": SENTINEL_URL,
                "ENQUEUER_MIN_REPLICAS": "1",
                "ENQUEUER_MIN_REPLICAS_TIMEOUT": "1",
            },
        )

    # ------------------------------------------------------------ the group
    def node(self, service: str) -> Container:
        containers = self.containers(service, stopped=True)
        assert len(containers) == 1, f"{service}: {len(containers)} containers"
        containers[0].reload()
        return containers[0]

    def published_port(self, service: str, port: int) -> int:
        bindings = self.node(service).attrs["NetworkSettings"]["Ports"][f"{port}/tcp"]
        return int(bindings[0]["HostPort"])

    def node_client(self, service: str) -> redis.Redis:
        """A direct client for one data node (the `redis` service: REDIS_PORT)."""
        port = self.redis_port if service == "redis" else self.published_port(service, 6379)
        return connect(f"redis://127.0.0.1:{port}/0", socket_timeout=5.0)

    def sentinel_client(self, service: str) -> redis.Redis:
        port = self.published_port(service, 26379)
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=3, socket_connect_timeout=3)

    def sentinels_primary(self) -> str | None:
        """The data node (service name) a majority of the running Sentinels name
        as the primary, or None while they disagree or none answers."""
        votes: dict[str, int] = {}
        for service in SENTINELS:
            try:
                client: Any = self.sentinel_client(service)
                reply: Any = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            except (redis.RedisError, KeyError, TypeError, AssertionError):
                continue
            if reply:
                host = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
                votes[host] = votes.get(host, 0) + 1
        winners = [host for host, count in votes.items() if count >= 2]
        return winners[0] if winners else None

    def role(self, service: str) -> tuple[str, str | None]:
        """ROLE of a data node: ("master", None) or ("slave", its primary)."""
        client: Any = self.node_client(service)
        reply: Any = client.execute_command("ROLE")
        kind = reply[0].decode()
        return kind, (reply[1].decode() if kind == "slave" else None)

    def primary_resque(self) -> Resque:
        """The Resque API on the node the Sentinels name as the primary."""
        primary = self.sentinels_primary()
        assert primary in DATA_NODES, primary
        return Resque(self.node_client(primary), namespace="resque")

    # ------------------------------------------------------------- the apps
    def app_states(self) -> dict[str, AppState]:
        """Every enqueuer, worker, scheduler and frontend container's identity."""
        states = {}
        for service in ("enqueuer", "worker", "scheduler", "frontend"):
            for container in self.containers(service, stopped=True):
                container.reload()
                state = container.attrs["State"]
                assert state["Status"] == "running", (container.name, state["Status"])
                states[container.name] = AppState(
                    container.id, state["StartedAt"], int(container.attrs["RestartCount"])
                )
        return states

    def post_job(self, queue: str, class_name: str, args: list[Any], **extra: Any) -> int:
        """POST /jobs; the status code, or 0 when the request itself failed."""
        try:
            response = requests.post(
                f"{self.enqueuer_url}/jobs",
                json={"queue": queue, "class": class_name, "args": args, **extra},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
        except requests.RequestException:
            return 0
        return response.status_code
