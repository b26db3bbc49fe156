"""The Compose `ha` profile in real containers: a Redis primary, two replicas
and three Sentinels; the enqueuer, workers, schedulers and frontend reach Redis
only through the Sentinels, and the enqueuer acknowledges a job (202) only
once a replica has it (ENQUEUER_MIN_REPLICAS=1).

The primary is killed while jobs are posted: the Sentinels promote a replica,
every part reconnects by itself (no container restarted), and every job that
was acknowledged runs. Then the old primary comes back as a replica, and a
planned hand-over (what the Kubernetes preStop hook runs) moves the primary
without a failure detection.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import docker
import pytest
import redis
import requests
from e2e_support.ha import DATA_NODES, SENTINELS, HaStack
from e2e_support.images import REPO
from e2e_support.polling import wait_for

WORKERS = 2
QUEUE = "e2e_ha"
LOG_DIR = REPO / "var" / "e2e-logs"
# Kill to promotion: down-after-milliseconds (5 s) plus the election; then the
# parts need a reconnect. The brief allows 10-20 s; a busy CI host gets 30.
RECOVERY = 30.0


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def new_repo_id() -> int:
    return random.randrange(10**6, 10**9)


@pytest.fixture(scope="module")
def ha(images: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaStack]:
    stack = HaStack(tmp_path_factory.mktemp("e2e-ha"), images)
    try:
        stack.up(WORKERS)
        yield stack
    finally:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_file = LOG_DIR / f"{stack.project}.log"
        try:
            log_file.write_text(stack.logs())
        except RuntimeError as error:
            log_file.write_text(f"could not collect logs: {error}\n")
        stack.down()


@dataclass
class Producer:
    """Posts Archive jobs in a loop; remembers which ones were acknowledged, and when."""

    stack: HaStack
    acknowledged: list[tuple[float, int]] = field(default_factory=list)
    refused: list[tuple[float, int]] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            repo_id = new_repo_id()
            status = self.stack.post_job(QUEUE, "Archive", [repo_id])
            now = time.monotonic()
            if status == 202:
                self.acknowledged.append((now, repo_id))
            elif status in (0, 503):  # no primary yet, or no replica confirmed it
                self.refused.append((now, status))
                time.sleep(0.2)
            else:
                self.unexpected.append(status)
            time.sleep(0.05)

    def __enter__(self) -> Producer:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=30)

    def acks_since(self, moment: float) -> int:
        return sum(1 for at, _ in self.acknowledged if at >= moment)

    def ids(self) -> set[int]:
        return {repo_id for _, repo_id in self.acknowledged}


def every_acknowledged_job_runs(stack: HaStack, producer: Producer) -> None:
    def missing() -> set[int]:
        return producer.ids() - {line["repo_id"] for line in stack.effects("Archive")}

    wait_for(
        lambda: not missing(),
        timeout=120,
        what=f"all {len(producer.ids())} acknowledged jobs to run (missing: {len(missing())})",
    )


def settled(stack: HaStack) -> str:
    """Wait for a group with one primary the Sentinels agree on, two replicas of
    it, the parts connected; return the primary's service name."""
    primary = wait_for(stack.sentinels_primary, timeout=60, what="the Sentinels to agree")
    replicas = [n for n in DATA_NODES if n != primary]
    wait_for(
        lambda: all(stack.role(n) == ("slave", primary) for n in replicas),
        timeout=60,
        what=f"{replicas} to replicate {primary}",
        ignore=(redis.RedisError,),
    )
    wait_for(
        lambda: len(stack.primary_resque().workers.ids()) == WORKERS,
        timeout=120,
        what=f"{WORKERS} workers registered",
        ignore=(redis.RedisError,),
    )
    wait_for(
        lambda: requests.get(f"{stack.enqueuer_url}/readyz", timeout=5).ok,
        timeout=60,
        what="the enqueuer to be ready",
        ignore=(requests.RequestException,),
    )
    return str(primary)


def sentinel_master(stack: HaStack, service: str) -> dict[str, Any]:
    """SENTINEL MASTER resque (redis-py parses the numbers)."""
    client: Any = stack.sentinel_client(service)
    return dict(client.sentinel_master("resque"))


def knows_the_other_sentinels(stack: HaStack, service: str) -> bool:
    return int(sentinel_master(stack, service)["num-other-sentinels"]) == 2


def test_ha_profile_starts_one_primary_two_replicas_and_three_sentinels(ha: HaStack) -> None:
    primary = settled(ha)
    assert primary == "redis", "a new group starts with `redis` as its primary"
    for service in SENTINELS:
        master = sentinel_master(ha, service)
        assert int(master["quorum"]) == 2
        assert int(master["down-after-milliseconds"]) == 5000
        wait_for(
            partial(knows_the_other_sentinels, ha, service),
            timeout=30,
            what=f"{service} to know the other two Sentinels",
        )
    for node in DATA_NODES:
        config = {
            text(key): text(value) for key, value in ha.node_client(node).config_get("*").items()
        }
        assert config["appendonly"] == "yes", node
        assert config["maxmemory-policy"] == "noeviction", node
        assert set("Klz") <= set(config["notify-keyspace-events"]), node
    # Jobs go through the Sentinel-found primary, once a replica has them.
    repo_id = new_repo_id()
    assert ha.post_job(QUEUE, "Archive", [repo_id]) == 202
    wait_for(lambda: ha.runs_of("Archive", repo_id) == 1, timeout=30, what="the job to run")


def test_ha_failover_promotes_a_replica_and_loses_no_acknowledged_job(ha: HaStack) -> None:
    old_primary = settled(ha)
    apps_before = ha.app_states()
    assert len(apps_before) == WORKERS + 4, apps_before  # enqueuer, 2 schedulers, frontend
    delayed_id = new_repo_id()

    with Producer(ha) as producer:
        wait_for(lambda: len(producer.acknowledged) >= 20, timeout=60, what="jobs flowing")
        ha.node(old_primary).kill()
        killed_at = time.monotonic()

        promoted = wait_for(
            lambda: (p := ha.sentinels_primary()) not in (None, old_primary) and p,
            timeout=RECOVERY,
            what="the Sentinels to promote a replica",
        )
        promoted_at = time.monotonic()
        assert promoted in DATA_NODES
        wait_for(
            lambda: ha.role(str(promoted))[0] == "master",
            timeout=10,
            what=f"{promoted} to be a primary",
            ignore=(redis.RedisError,),
        )
        # The enqueuer reconnects by itself and acknowledges again, which
        # with ENQUEUER_MIN_REPLICAS=1 also means the other replica follows
        # the new primary.
        wait_for(
            lambda: producer.acks_since(promoted_at) >= 20 or producer.unexpected,
            timeout=RECOVERY,
            what="the enqueuer to acknowledge jobs on the new primary",
        )
        first_ack = min(at for at, _ in producer.acknowledged if at >= killed_at)
        # A delayed job, for the scheduler on the new primary.
        assert ha.post_job(QUEUE, "Archive", [delayed_id], delay_seconds=1) == 202
    assert producer.unexpected == [], "the enqueuer answers 202 or 503, nothing else"
    print(
        f"\nfailover: {promoted} promoted {promoted_at - killed_at:.1f}s after the kill, "
        f"first 202 after {first_ack - killed_at:.1f}s, "
        f"{len(producer.refused)} posts refused meanwhile, {len(producer.ids())} acknowledged"
    )
    assert first_ack - killed_at < RECOVERY, f"first 202 {first_ack - killed_at:.1f}s after kill"

    # Workers run every acknowledged job, on the new primary; the scheduler
    # moved the delayed one there.
    every_acknowledged_job_runs(ha, producer)
    wait_for(
        lambda: ha.runs_of("Archive", delayed_id) == 1,
        timeout=RECOVERY,
        what="the delayed job to be moved and run",
    )
    resque = ha.primary_resque()
    wait_for(
        lambda: len(resque.workers.ids()) == WORKERS,
        timeout=RECOVERY,
        what="the workers registered on the new primary",
    )
    wait_for(
        lambda: resque.redis.get("resque:resque_scheduler_master_lock") is not None,
        timeout=RECOVERY,
        what="a scheduler leading on the new primary",
    )
    # The frontend reads the new primary.
    wait_for(
        lambda: (
            requests.get(f"{ha.frontend_url}/readyz", timeout=5).ok and ha.metric("resque_up") == 1
        ),
        timeout=RECOVERY,
        what="the frontend to be ready on the new primary",
        ignore=(requests.RequestException, AssertionError),
    )
    assert ha.app_states() == apps_before, "a part was restarted or replaced"

    # The old primary, started again, asks the Sentinels and rejoins as a replica.
    ha.node(old_primary).start()
    wait_for(
        lambda: ha.role(old_primary) == ("slave", promoted),
        timeout=60,
        what=f"{old_primary} to come back as a replica of {promoted}",
        ignore=(redis.RedisError,),
    )
    assert ha.sentinels_primary() == promoted


def test_ha_planned_handover_moves_the_primary_first(ha: HaStack) -> None:
    """resque-redis-handover (the Kubernetes preStop of a Redis pod): the
    primary asks a Sentinel to fail over and waits until it is a replica."""
    primary = settled(ha)
    apps_before = ha.app_states()
    with Producer(ha) as producer:
        wait_for(lambda: len(producer.acknowledged) >= 20, timeout=60, what="jobs flowing")
        started = time.monotonic()
        result = ha.node(primary).exec_run(["resque-redis-handover"], demux=True)
        handed_over = time.monotonic()
        stdout, stderr = result.output
        assert result.exit_code == 0, (stdout, stderr)
        assert b"handed over" in (stderr or b""), stderr
        assert ha.role(primary)[0] == "slave"
        assert handed_over - started < 20
        new_primary = wait_for(
            lambda: (p := ha.sentinels_primary()) not in (None, primary) and p,
            timeout=10,
            what="the Sentinels to name the new primary",
        )
        wait_for(
            lambda: producer.acks_since(handed_over) >= 20 or producer.unexpected,
            timeout=RECOVERY,
            what="the enqueuer to acknowledge jobs on the new primary",
        )
    assert producer.unexpected == []
    assert ha.role(str(new_primary))[0] == "master"
    every_acknowledged_job_runs(ha, producer)
    assert ha.app_states() == apps_before, "a part was restarted or replaced"
