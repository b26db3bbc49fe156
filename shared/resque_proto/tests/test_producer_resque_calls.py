"""Resque's other library calls (``enqueue_front``, ``dequeue``, ``remove_worker``,
``info``) and the producer hooks (``before_enqueue*`` ... ``after_dequeue*``), on a
real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis

import resque_proto
from resque_proto import (
    Resque,
    ResqueJob,
    dequeue,
    enqueue,
    enqueue_at,
    enqueue_front,
    enqueue_many,
    enqueue_to,
    inline,
    producer,
    remove_worker,
)
from resque_proto.client import server_name
from resque_proto.records import PRUNED_DIRTY_EXIT

EVENTS: list[tuple[str, list[Any]]] = []
QUEUE_KEY = "resque:queue:hooked"


class Plain(ResqueJob, queue="plain"):
    @staticmethod
    def perform(*args: Any) -> None:
        EVENTS.append(("perform", list(args)))


class Hooked(ResqueJob, queue="hooked"):
    """Producer hooks that record what they saw, and the queue length when they ran
    (the ``client`` attribute, set by the tests that write to Redis)."""

    client: redis.Redis | None = None
    cancel_enqueue: object = None
    cancel_dequeue: object = None

    @classmethod
    def _seen(cls, name: str, args: tuple[Any, ...]) -> None:
        length = cls.client.llen(QUEUE_KEY) if cls.client is not None else None
        EVENTS.append((name, [*args, length] if length is not None else list(args)))

    @classmethod
    def before_enqueue_b(cls, *args: Any) -> object:
        cls._seen("before_enqueue_b", args)
        return cls.cancel_enqueue

    @classmethod
    def before_enqueue_a(cls, *args: Any) -> None:
        cls._seen("before_enqueue_a", args)

    @classmethod
    def after_enqueue_z(cls, *args: Any) -> None:
        cls._seen("after_enqueue_z", args)

    @classmethod
    def after_enqueue_y(cls, *args: Any) -> None:
        cls._seen("after_enqueue_y", args)

    @classmethod
    def before_dequeue_check(cls, *args: Any) -> object:
        cls._seen("before_dequeue", args)
        return cls.cancel_dequeue

    @classmethod
    def after_dequeue_log(cls, *args: Any) -> None:
        cls._seen("after_dequeue", args)

    @classmethod
    def perform(cls, *args: Any) -> None:
        EVENTS.append(("perform", list(args)))


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    EVENTS.clear()
    Hooked.client = None
    Hooked.cancel_enqueue = Hooked.cancel_dequeue = None
    yield
    EVENTS.clear()
    Hooked.client = None


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    Hooked.client = redis_client
    return Resque(redis_client, "resque")


@pytest.fixture
def shared(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The shared client, pointed at the test Redis through the environment."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("RESQUE_NAMESPACE", "RESQUE_INLINE", "RESQUE_STATUS_TTL"):
        monkeypatch.delenv(name, raising=False)
    Hooked.client = redis_client
    producer.reset_shared_client()
    yield
    producer.reset_shared_client()


def raw_queue(client: redis.Redis, queue: str) -> list[bytes]:
    return cast(list[bytes], client.lrange(f"resque:queue:{queue}", 0, -1))


# -- enqueue_front -----------------------------------------------------------------------


@pytest.mark.usefixtures("shared")
def test_enqueue_front_puts_the_job_at_the_head_so_it_runs_next(
    resque: Resque, redis_client: redis.Redis
) -> None:
    enqueue(Plain, 1, metadata=False)
    enqueue(Plain, 2, metadata=False)
    first = enqueue_front(Plain, 0)
    assert first.id is not None and first.queue == "plain"
    resque.enqueue_front("plain", "Plain", -1, metadata=False)  # the client, by name
    assert [json.loads(raw)["args"] for raw in raw_queue(redis_client, "plain")] == [
        [-1], [0], [1], [2]
    ]  # fmt: skip
    assert raw_queue(redis_client, "plain")[0] == b'{"class":"Plain","args":[-1]}'
    assert redis_client.smembers("resque:queues") == {b"plain"}
    reserved = [resque.jobs.reserve("w:1:plain", ["plain"]) for _ in range(2)]
    assert [job.payload if job else None for job in reserved][1] == str(first)
    assert resque_proto.enqueue_front is enqueue_front


def test_enqueue_front_of_a_batch_keeps_its_order_at_the_head(resque: Resque) -> None:
    resque.jobs.push_many([("q", "a"), ("q", "b")])
    resque.jobs.push_many([("q", "c"), ("q", "d")], front=True)
    assert resque.redis.lrange("resque:queue:q", 0, -1) == [b"c", b"d", b"a", b"b"]


def test_enqueue_front_runs_inline_too(redis_client: redis.Redis) -> None:
    with inline():
        assert enqueue_front(Plain, 5).id is not None
    assert EVENTS == [("perform", [5])] and redis_client.dbsize() == 0


# -- dequeue -----------------------------------------------------------------------------


def test_dequeue_by_args_also_removes_our_payloads_and_nothing_else(
    resque: Resque, redis_client: redis.Redis
) -> None:
    key = "resque:queue:plain"
    survivors = [
        b'{"class":"Plain","args":[45]}',
        b'{"class":"Plain","args":[44.0]}',  # 44.0 is not 44 (Ruby's bytes differ too)
        b'{"class":"Plain","args":[true]}',
        b'{"class":"Plain","args":[44,"x"]}',
        b'{"class":"Other","args":[44]}',
        b"not json at all",
        b"\xff\xfe not utf-8",
    ]
    resque.enqueue(Plain, 44)  # carries id and enqueued_at
    resque.enqueue(Plain, 44)
    redis_client.rpush(key, survivors[0], survivors[1])
    resque.enqueue(Plain, 44, metadata=False)  # Ruby's exact bytes
    redis_client.rpush(key, *survivors[2:])
    redis_client.rpush(key, '{"class": "Plain", "args": [44], "attempt": 2, "retry": {}}')
    assert resque.dequeue(Plain, 44) == 4
    assert raw_queue(redis_client, "plain") == survivors
    assert resque.dequeue("plain", "Plain", 44) == 0  # the name form; nothing left


def test_dequeue_without_args_removes_every_job_of_the_class(
    resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue_many([(Plain, [1]), (Plain, [2]), ("plain", "Other", [1]), (Plain, [])])
    redis_client.rpush("resque:queue:plain", b"{broken")
    assert resque.dequeue(Plain) == 3
    assert [json.loads(raw)["class"] for raw in raw_queue(redis_client, "plain")[:1]] == ["Other"]
    assert raw_queue(redis_client, "plain")[1] == b"{broken"
    assert resque.dequeue(Plain) == 0 and resque.dequeue("empty", Plain) == 0


def test_dequeue_counts_identical_payloads_and_checks_its_arguments(
    resque: Resque, redis_client: redis.Redis
) -> None:
    for _ in range(3):
        resque.enqueue(Plain, {"a": [1, 2.5]}, metadata=False)
    assert resque.dequeue(Plain, {"a": [1, 2.5]}) == 3
    assert redis_client.llen("resque:queue:plain") == 0
    with pytest.raises(ValueError, match="args"):
        resque.dequeue(Plain, object())


@pytest.mark.usefixtures("shared")
def test_the_module_level_dequeue_uses_the_shared_client(redis_client: redis.Redis) -> None:
    Plain.enqueue(7)
    enqueue_to("plain", Plain, 8)
    assert dequeue(Plain, 7) == 1
    assert [json.loads(raw)["args"] for raw in raw_queue(redis_client, "plain")] == [[8]]
    assert resque_proto.dequeue is dequeue


# -- producer hooks ----------------------------------------------------------------------


@pytest.mark.usefixtures("shared")
def test_enqueue_hooks_run_in_name_order_around_the_write() -> None:
    assert Hooked.enqueue(1, "x")
    assert EVENTS == [  # the queue length shows which ran before the write
        ("before_enqueue_a", [1, "x", 0]),
        ("before_enqueue_b", [1, "x", 0]),
        ("after_enqueue_y", [1, "x", 1]),
        ("after_enqueue_z", [1, "x", 1]),
    ]


@pytest.mark.usefixtures("shared")
def test_a_before_enqueue_hook_returning_false_cancels(redis_client: redis.Redis) -> None:
    Hooked.cancel_enqueue = False
    result = enqueue(Hooked, 1)
    assert not result and result.id is None and result.payload == ""
    assert EVENTS == [("before_enqueue_a", [1, 0]), ("before_enqueue_b", [1, 0])]
    assert not enqueue_front(Hooked, 2) and not Hooked.enqueue(3)
    assert redis_client.dbsize() == 0
    Hooked.cancel_enqueue = 0  # only False cancels (Ruby's `== false`)
    assert Hooked.enqueue(4) and redis_client.llen(QUEUE_KEY) == 1


def test_the_client_runs_the_hooks_and_an_enqueue_by_name_runs_none(
    resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue_to("hooked", Hooked, 1)
    assert [name for name, _ in EVENTS] == [
        "before_enqueue_a", "before_enqueue_b", "after_enqueue_y", "after_enqueue_z"
    ]  # fmt: skip
    EVENTS.clear()
    resque.enqueue("hooked", "Hooked", 2)  # no class in hand: no hooks
    Hooked.cancel_enqueue = False
    assert not resque.enqueue_front(Hooked, 3)
    assert [name for name, _ in EVENTS] == ["before_enqueue_a", "before_enqueue_b"]
    assert [json.loads(raw)["args"] for raw in raw_queue(redis_client, "hooked")] == [[1], [2]]


@pytest.mark.usefixtures("shared")
def test_enqueue_many_leaves_out_the_jobs_a_hook_cancels(redis_client: redis.Redis) -> None:
    class Picky(Plain):
        @staticmethod
        def before_enqueue_odd(n: int) -> bool:
            return n % 2 == 0

        @staticmethod
        def after_enqueue_seen(n: int) -> None:
            EVENTS.append(("after", [n]))

    written = enqueue_many([(Picky, [1]), (Picky, [2]), ("plain", Picky, [4]), (Plain, [5])])
    assert [json.loads(job)["args"] for job in written] == [[2], [4], [5]]
    assert [json.loads(raw)["args"] for raw in raw_queue(redis_client, "plain")] == [[2], [4], [5]]
    assert EVENTS == [("after", [2]), ("after", [4])]


@pytest.mark.usefixtures("shared")
def test_delayed_enqueues_run_no_enqueue_hooks(redis_client: redis.Redis) -> None:
    Hooked.enqueue_in(60, 1)
    enqueue_at(time.time() - 1, Hooked, 2)  # due already: pushed now, still no hooks
    assert EVENTS == [] and redis_client.llen(QUEUE_KEY) == 1


@pytest.mark.usefixtures("shared")
def test_dequeue_hooks_run_around_the_removal_and_false_cancels(
    redis_client: redis.Redis,
) -> None:
    Hooked.enqueue(1)
    Hooked.enqueue(2)
    EVENTS.clear()
    assert dequeue(Hooked, 1) == 1
    assert EVENTS == [("before_dequeue", [1, 2]), ("after_dequeue", [1, 1])]
    EVENTS.clear()
    Hooked.cancel_dequeue = False
    assert dequeue(Hooked) is None
    assert EVENTS == [("before_dequeue", [1])] and redis_client.llen(QUEUE_KEY) == 1


@pytest.mark.usefixtures("shared")
def test_a_raising_before_hook_stops_the_call(redis_client: redis.Redis) -> None:
    class Strict(Plain):
        @staticmethod
        def before_enqueue_validate(n: int) -> None:
            raise ValueError(f"bad {n}")

    with pytest.raises(ValueError, match="bad 1"):
        Strict.enqueue(1)
    assert redis_client.dbsize() == 0


def test_inline_runs_the_enqueue_hooks_around_perform_and_dequeue_needs_no_redis() -> None:
    with inline():
        assert Hooked.enqueue(1).id is not None
        Hooked.cancel_enqueue = False
        assert not enqueue_front(Hooked, 2)
        assert dequeue(Hooked, 1) == 0
        Hooked.cancel_dequeue = False
        assert dequeue(Hooked, 1) is None
    assert EVENTS == [
        ("before_enqueue_a", [1]),
        ("before_enqueue_b", [1]),
        ("perform", [1]),
        ("after_enqueue_y", [1]),
        ("after_enqueue_z", [1]),
        ("before_enqueue_a", [2]),
        ("before_enqueue_b", [2]),  # cancelled: not performed
        ("before_dequeue", [1]),
        ("after_dequeue", [1]),
        ("before_dequeue", [1]),
    ]
    assert producer._shared is None  # not even a connection


def test_enqueue_many_inline_runs_each_job_between_its_hooks() -> None:
    with inline():
        ran = enqueue_many([(Hooked, [1]), (Plain, [2])])
    assert len(ran) == 2
    assert [name for name, _ in EVENTS] == [
        "before_enqueue_a", "before_enqueue_b", "perform", "after_enqueue_y",
        "after_enqueue_z", "perform",
    ]  # fmt: skip


# -- remove_worker -----------------------------------------------------------------------


def test_remove_worker_puts_its_jobs_back_and_forgets_it(
    resque: Resque, redis_client: redis.Redis
) -> None:
    worker = "host:1:plain"
    resque.workers.register(worker)
    resque.enqueue(Plain, 1, metadata=False)
    resque.enqueue(Plain, 2, metadata=False)
    assert resque.jobs.reserve(worker, ["plain"]) is not None
    recovery = resque.remove_worker(worker)
    assert recovery is not None and [job.payload for job in recovery.requeued] == [
        '{"class":"Plain","args":[1]}'
    ]
    assert [json.loads(raw)["args"] for raw in raw_queue(redis_client, "plain")] == [[1], [2]]
    assert resque.workers.ids() == []
    assert redis_client.keys(f"*{worker}*") == []
    assert resque.remove_worker(worker) is None  # no such worker: nothing to do


def test_remove_worker_fails_a_ruby_workers_job_in_hand(
    resque: Resque, redis_client: redis.Redis
) -> None:
    worker = "ruby-host:7:plain"
    redis_client.sadd("resque:workers", worker)
    redis_client.set(f"resque:worker:{worker}:started", "2026-12-02 05:00:00 +0000")
    redis_client.set(
        f"resque:worker:{worker}",
        '{"queue":"plain","run_at":"2026-12-02T05:00:01Z","payload":{"class":"Plain","args":[9]}}',
    )
    recovery = resque.remove_worker(worker)
    assert recovery is not None and len(recovery.failed) == 1
    (record,) = resque.failures.all()
    assert record.exception == PRUNED_DIRTY_EXIT and record.worker == worker
    assert redis_client.keys(f"*{worker}*") == [] and resque.workers.ids() == []


@pytest.mark.usefixtures("shared")
def test_the_module_level_remove_worker_uses_the_shared_client(resque: Resque) -> None:
    resque.workers.register("host:2:plain")
    assert remove_worker("host:2:plain") is not None and resque.workers.ids() == []


# -- info --------------------------------------------------------------------------------


def test_info_has_resques_keys_and_counts(
    resque: Resque, redis_client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAILS_ENV", raising=False)
    monkeypatch.delenv("RACK_ENV", raising=False)
    resque.enqueue_many([(Plain, [1]), (Plain, [2]), ("other", "Other", [])])
    resque.queues.remove_jobs("other", "Other")  # an empty queue still counts as a queue
    resque.enqueue("third", "Other")
    for worker in ("a:1:plain", "b:2:plain", "c:3:plain"):
        resque.workers.register(worker)
    assert resque.jobs.reserve("a:1:plain", ["plain"]) is not None
    redis_client.set("resque:stat:processed", 7)
    redis_client.rpush("resque:failed", "{}", "{}")
    redis_client.set("resque:stat:failed", 9)  # not what info reports: the list's length
    info = resque.info()
    address = redis_client.connection_pool.connection_kwargs
    assert info == {
        "pending": 2,
        "processed": 7,
        "queues": 3,
        "workers": 3,
        "working": 1,
        "failed": 2,
        "servers": [f"redis://{address['host']}:{address['port']}/0"],
        "environment": "development",
    }
    monkeypatch.setenv("RACK_ENV", "staging")
    assert resque.info()["environment"] == "staging"
    monkeypatch.setenv("RAILS_ENV", "production")
    assert resque.info()["environment"] == "production"


def test_the_server_name_never_shows_a_password() -> None:
    client = redis.Redis.from_url("redis://user:s3cret@db.example:6390/2")
    assert server_name(client) == "redis://db.example:6390/2"
    assert server_name(redis.Redis(unix_socket_path="/run/redis.sock")) == (
        "unix:///run/redis.sock?db=0"
    )
    assert server_name(redis.Redis.from_url("rediss://db.example")) == "rediss://db.example:6379/0"


@pytest.mark.usefixtures("shared")
def test_the_module_level_info_uses_the_shared_client() -> None:
    Plain.enqueue(1)
    assert resque_proto.info()["pending"] == 1
