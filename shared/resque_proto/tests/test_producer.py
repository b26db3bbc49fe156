"""The Python producer (resque_proto.producer): job classes, the returned ``Enqueued``,
the shared client (threads, fork) and inline mode, on a real Redis."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

import resque_proto
from resque_proto import (
    Enqueued,
    Resque,
    ResqueJob,
    ValidationError,
    enqueue,
    enqueue_at,
    enqueue_in,
    enqueue_many,
    enqueue_to,
    inline,
    job,
    producer,
)
from resque_proto.delayed_payload import encode_delayed_payload
from resque_proto.job_hooks import DontPerform

RAN: list[tuple[str, Any]] = []


@job(queue="file_serve")
class Archive:
    @staticmethod
    def perform(repo_id: int, branch: str = "master") -> None:
        RAN.append(("Archive", [repo_id, branch]))


class Invoice:
    queue = "billing"

    @classmethod
    def perform(cls, *args: Any) -> None:
        RAN.append(("Invoice", list(args)))


class Typed(ResqueJob, queue="typed"):
    @staticmethod
    def perform(*args: Any) -> None:
        RAN.append(("Typed", list(args)))


class Computed:
    @staticmethod
    def queue() -> str:
        return "computed"

    @staticmethod
    def perform() -> None: ...


class NoQueue:
    @staticmethod
    def perform() -> None: ...


class Hooked(ResqueJob, queue="hooks"):
    """Every kind of job hook, recording the order they run in."""

    skip = False
    fail = False

    @classmethod
    def before_perform_b(cls, *args: Any) -> None:
        RAN.append(("before_b", list(args)))

    @classmethod
    def before_perform_a(cls, *args: Any) -> None:
        RAN.append(("before_a", list(args)))
        if cls.skip:
            raise DontPerform

    @classmethod
    def around_perform_1(cls, proceed: Any, *args: Any) -> None:
        RAN.append(("around_1 in", list(args)))
        proceed()
        RAN.append(("around_1 out", list(args)))

    @classmethod
    def around_perform_2(cls, proceed: Any, *args: Any) -> None:
        RAN.append(("around_2 in", list(args)))
        proceed()

    @classmethod
    def perform(cls, *args: Any) -> None:
        RAN.append(("perform", list(args)))
        if cls.fail:
            raise RuntimeError("disk full")

    @classmethod
    def after_perform_x(cls, *args: Any) -> None:
        RAN.append(("after", list(args)))

    @classmethod
    def on_failure_log(cls, error: BaseException, *args: Any) -> None:
        RAN.append(("on_failure", [str(error), *args]))


# The worker finds Invoice by this Ruby name, so our producer writes it.
RESQUE_CLASS_NAMES = {"Billing::Invoice": Invoice, "Billing::OldInvoice": Invoice}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    RAN.clear()
    Hooked.skip = Hooked.fail = False
    yield
    RAN.clear()


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    return Resque(redis_client, "resque")


@pytest.fixture
def shared(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shared client, pointed at the test Redis through the environment."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("RESQUE_NAMESPACE", "RESQUE_INLINE", "RESQUE_STATUS_TTL"):
        monkeypatch.delenv(name, raising=False)
    producer.reset_shared_client()
    yield
    producer.reset_shared_client()


def queued(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(f"resque:queue:{queue}", 0, -1)]


# -- naming and the call forms -----------------------------------------------------------


def test_class_based_payload_bytes_equal_the_string_based_ones(
    resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue(Archive, 44, "café", 1.5e20, metadata=False)
    resque.enqueue("file_serve", "Archive", 44, "café", 1.5e20, metadata=False)
    resque.enqueue_to("file_serve", Archive, 44, "café", 1.5e20, metadata=False)
    resque.enqueue("file_serve", Archive, 44, "café", 1.5e20, metadata=False)
    resque.enqueue(Invoice, 7, metadata=False)
    resque.enqueue("billing", "Billing::Invoice", 7, metadata=False)
    archive = b'{"class":"Archive","args":[44,"caf\xc3\xa9",1.5e+20]}'
    assert redis_client.lrange("resque:queue:file_serve", 0, -1) == [archive] * 4
    invoice = b'{"class":"Billing::Invoice","args":[7]}'
    assert redis_client.lrange("resque:queue:billing", 0, -1) == [invoice] * 2


def test_the_job_name_is_what_the_worker_registry_looks_up() -> None:
    assert producer.job_name(Archive) == "Archive"
    assert producer.job_name(Typed) == "Typed"
    assert producer.job_name(Invoice) == "Billing::Invoice"  # the first Ruby name mapped


def test_the_queue_comes_from_the_class_unless_one_is_named(
    resque: Resque, redis_client: redis.Redis
) -> None:
    assert resque.enqueue(Archive, 1).queue == "file_serve"
    assert resque.enqueue(Typed, 2).queue == "typed"
    assert resque.enqueue(Computed).queue == "computed"  # a queue() method, as Ruby allows
    assert resque.enqueue_to("urgent", Archive, 3).queue == "urgent"
    assert [job["args"] for job in queued(redis_client, "urgent")] == [[3]]
    assert redis_client.smembers("resque:queues") == {b"file_serve", b"typed", b"computed",
                                                      b"urgent"}  # fmt: skip


def test_a_class_without_a_queue_is_an_error_naming_it(
    resque: Resque, redis_client: redis.Redis
) -> None:
    with pytest.raises(ValidationError, match="NoQueue has no queue") as raised:
        resque.enqueue(NoQueue)
    assert isinstance(raised.value, ValueError) and "enqueue_to" in str(raised.value)
    with pytest.raises(ValueError, match="NoQueue"):
        resque.enqueue_in(60, NoQueue)
    with pytest.raises(ValueError, match="NoQueue"):
        resque.enqueue_many([(Archive, [1]), (NoQueue, [])])
    assert redis_client.dbsize() == 0
    resque.enqueue_to("somewhere", NoQueue)  # naming a queue is enough
    assert redis_client.llen("resque:queue:somewhere") == 1


def test_wrong_call_forms_are_type_errors(resque: Resque) -> None:
    with pytest.raises(TypeError, match="needs a job after it"):
        resque.enqueue("file_serve")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not int"):
        resque.enqueue("Archive", 44)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="got int"):
        resque.enqueue(44)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="enqueue_many"):
        resque.enqueue_many([("q", [1])])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="queue"):
        resque.enqueue_to("no:colons", Archive, 1)


def test_enqueue_many_takes_classes_and_names_atomically(
    resque: Resque, redis_client: redis.Redis
) -> None:
    written = resque.enqueue_many([(Archive, [1]), ("file_serve", "Archive", [2]),
                                   ("other", Invoice, (3,))])  # fmt: skip
    assert [job.queue for job in written] == ["file_serve", "file_serve", "other"]
    assert [job["args"] for job in queued(redis_client, "file_serve")] == [[1], [2]]
    assert queued(redis_client, "other")[0]["class"] == "Billing::Invoice"
    assert all(redis_client.exists(f"resque:pyresque:status:{job.id}") for job in written)


def test_the_delayed_helpers_take_a_class_too(resque: Resque) -> None:
    when = int(time.time()) + 600
    resque.enqueue_at(when, Archive, 44, metadata=False)
    assert resque.scheduled_at(Archive, 44) == [when]
    assert resque.scheduled_at("file_serve", "Archive", 44) == [when]
    assert resque.remove_delayed(Archive, 44) == 1
    assert resque.delayed_count() == 0


# -- the decorator and the base class ----------------------------------------------------


def test_the_decorator_sets_the_queue_and_leaves_the_job_class_alone() -> None:
    def perform(repo_id: int) -> None: ...

    class Plain:
        pass

    Plain.perform = staticmethod(perform)  # type: ignore[attr-defined]
    decorated = job(queue="file_serve")(Plain)
    assert decorated is Plain and Plain.queue == "file_serve"  # type: ignore[attr-defined]
    assert Plain.perform is perform  # type: ignore[attr-defined]
    assert {"enqueue", "enqueue_in", "enqueue_at"} <= set(vars(Plain))

    @job  # bare: the class's own queue
    class Own:
        queue = "own"

        @staticmethod
        def perform() -> None: ...

    assert Own.queue == "own" and callable(Own.enqueue)  # type: ignore[attr-defined]


def test_the_decorator_refuses_what_cannot_be_a_job() -> None:
    with pytest.raises(TypeError, match="no perform"):

        @job(queue="q")
        class Lazy:
            pass

    with pytest.raises(ValidationError, match="Queueless has no queue"):

        @job
        class Queueless:
            @staticmethod
            def perform() -> None: ...

    with pytest.raises(TypeError, match="already defines enqueue"):

        @job(queue="q")
        class Clash:
            @staticmethod
            def perform() -> None: ...

            @staticmethod
            def enqueue() -> None: ...

    with pytest.raises(ValidationError, match="queue"):
        job(queue="bad queue")


@pytest.mark.usefixtures("shared")
def test_class_methods_enqueue_and_schedule(redis_client: redis.Redis) -> None:
    now = Archive.enqueue(44, "masterbrew")  # type: ignore[attr-defined]
    assert queued(redis_client, "file_serve")[0]["args"] == [44, "masterbrew"]
    assert now.scheduled_for is None
    later = Archive.enqueue_in(60, 45)  # type: ignore[attr-defined]
    due = later.scheduled_for
    assert due is not None and time.time() + 59 <= due <= time.time() + 61
    assert later == encode_delayed_payload("file_serve", "Archive", [45], later.id)
    assert redis_client.zscore("resque:delayed_queue_schedule", str(due)) == due
    assert redis_client.lrange(f"resque:delayed:{due}", 0, -1) == [later.encode()]
    assert redis_client.smembers(f"resque:timestamps:{later}") == {f"delayed:{due}".encode()}
    when = datetime.fromtimestamp(int(time.time()) + 3600, UTC)
    at = Typed.enqueue_at(when, "x")
    assert at.scheduled_for == int(when.timestamp()) and at.queue == "typed"
    assert redis_client.lrange(f"resque:delayed:{at.scheduled_for}", 0, -1) == [at.encode()]
    past = Typed.enqueue_at(time.time() - 5, "y")  # not in the future: enqueued at once
    assert past.scheduled_for is None and queued(redis_client, "typed")[0]["args"] == ["y"]
    assert Typed.enqueue_in(timedelta(minutes=2)).scheduled_for is not None
    status = json.loads(redis_client.get(f"resque:pyresque:status:{later.id}") or "null")
    assert (status["state"], status["scheduled_for"]) == ("scheduled", due)


# -- what enqueue returns ----------------------------------------------------------------


def test_the_result_carries_the_id_of_the_payload_and_its_status(
    resque: Resque, redis_client: redis.Redis
) -> None:
    result = resque.enqueue(Archive, 44)
    assert isinstance(result, Enqueued) and isinstance(result, str)
    body = json.loads(result)
    assert result.id is not None and result.id == body["id"] and len(result.id) == 32
    assert list(body) == ["class", "args", "id", "enqueued_at"]
    assert (result.queue, result.scheduled_for) == ("file_serve", None)
    assert result.payload.encode() == redis_client.lindex("resque:queue:file_serve", 0)
    assert result.payload == str(result) == result
    assert type(result.payload) is str
    status = json.loads(redis_client.get(f"resque:pyresque:status:{result.id}") or "null")
    assert (status["id"], status["state"], status["class"]) == (result.id, "queued", "Archive")
    bare = resque.enqueue("q", "Ruby", 1, metadata=False)
    assert bare.id is None and bare == '{"class":"Ruby","args":[1]}'
    delayed = resque.enqueue_in(60, Archive, 45, metadata=False)
    assert delayed.id is None and delayed.scheduled_for is not None


def test_the_result_is_immutable_and_survives_copy_and_pickle(resque: Resque) -> None:
    result = resque.enqueue_in(60, Archive, 44)
    with pytest.raises(AttributeError, match="immutable"):
        result.id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        result.note = "x"  # type: ignore[attr-defined]
    for twin in (copy.copy(result), pickle.loads(pickle.dumps(result))):
        assert isinstance(twin, Enqueued) and twin == result
        assert (twin.id, twin.queue, twin.scheduled_for) == (
            result.id, result.queue, result.scheduled_for
        )  # fmt: skip
    assert repr(result).startswith(f"Enqueued(id={result.id!r}, queue='file_serve'")
    assert resque.remove_delayed_payload(result) == 1  # still usable as the payload


# -- the shared client -------------------------------------------------------------------


@pytest.mark.usefixtures("shared")
def test_module_functions_share_one_client(redis_client: redis.Redis) -> None:
    first = enqueue(Archive, 1, metadata=False)
    client = producer.shared_client()
    enqueue("file_serve", "Archive", 2)
    enqueue_to("file_serve", Archive, 3)
    enqueue_in(60, Archive, 4)
    enqueue_at(time.time() + 60, "file_serve", "Archive", 5)
    enqueue_many([(Archive, [6])])
    Typed.enqueue(7)
    assert producer.shared_client() is client
    assert first == '{"class":"Archive","args":[1]}'
    assert [job["args"] for job in queued(redis_client, "file_serve")] == [[1], [2], [3], [6]]
    assert redis_client.zcard("resque:delayed_queue_schedule") >= 1
    producer.reset_shared_client()
    assert producer.shared_client() is not client


@pytest.mark.usefixtures("shared")
def test_the_shared_client_reads_the_environment_on_first_use(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESQUE_NAMESPACE", "staging")
    monkeypatch.setenv("RESQUE_STATUS_TTL", "0")
    enqueue(Archive, 1)
    assert redis_client.llen("staging:queue:file_serve") == 1
    assert redis_client.keys("staging:pyresque:status:*") == []


@pytest.mark.usefixtures("shared")
def test_threads_racing_on_first_use_share_one_client(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resque_proto.client

    built: list[Resque] = []

    class SlowToBuild(Resque):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)  # widen the window in which threads race to build
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(resque_proto.client, "Resque", SlowToBuild)
    threads_count = 32
    start = threading.Barrier(threads_count)
    used: list[int] = []
    errors: list[BaseException] = []

    def produce(n: int) -> None:
        try:
            start.wait()
            enqueue(Archive, n, metadata=False)
            used.append(id(producer.shared_client()))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(built) == 1 and set(used) == {id(built[0])}
    assert sorted(job["args"][0] for job in queued(redis_client, "file_serve")) == list(
        range(threads_count)
    )
    pool = built[0].redis.connection_pool
    assert pool._created_connections <= threads_count  # one pool, connections reused


@pytest.mark.usefixtures("shared")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads about
def test_a_forked_child_builds_its_own_client_and_the_parent_keeps_its_own(
    redis_client: redis.Redis,
) -> None:
    enqueue(Archive, 1, metadata=False)
    parent = producer.shared_client()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            child = producer.shared_client()
            enqueue(Archive, 2, metadata=False)
            own = child is not parent and producer.shared_client() is child
            own = own and child.redis.connection_pool is not parent.redis.connection_pool
            code = 0 if own else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert producer.shared_client() is parent
    enqueue(Archive, 3, metadata=False)  # the parent's pooled connection still works
    assert [job["args"] for job in queued(redis_client, "file_serve")] == [[1], [2], [3]]


def test_the_producer_module_does_not_load_redis() -> None:
    """RESQUE_JOBS modules use @job; the worker imports them before forking its zygote."""
    code = (
        "import sys, resque_proto.producer, resque_proto.job_hooks\n"
        "from resque_proto import job, inline, ResqueJob\n"
        "print('redis' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip() == "False"


# -- inline mode -------------------------------------------------------------------------


@pytest.mark.usefixtures("shared")
def test_inline_from_the_environment_runs_perform_and_writes_nothing(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESQUE_INLINE", "1")
    result = Archive.enqueue(44)  # type: ignore[attr-defined]
    Archive.enqueue_in(3600, 45, "dev")  # type: ignore[attr-defined]
    enqueue_at(time.time() + 3600, "file_serve", Archive, 46)
    enqueue_to("elsewhere", Invoice, (1, 2), {"a": 1})
    enqueue_many([(Typed, [7]), ("q", Typed, [8])])
    assert RAN == [
        ("Archive", [44, "master"]),
        ("Archive", [45, "dev"]),
        ("Archive", [46, "master"]),
        ("Invoice", [[1, 2], {"a": 1}]),  # as a worker sees them: through JSON
        ("Typed", [7]),
        ("Typed", [8]),
    ]
    assert result.id == json.loads(result)["id"] and result.scheduled_for is None
    assert redis_client.dbsize() == 0
    assert producer._shared is None  # not even a connection
    monkeypatch.setenv("RESQUE_INLINE", "maybe")
    with pytest.raises(ValueError, match="RESQUE_INLINE='maybe' is not a boolean"):
        Archive.enqueue(47)  # type: ignore[attr-defined]
    monkeypatch.setenv("RESQUE_INLINE", "off")
    Archive.enqueue(47)  # type: ignore[attr-defined]
    assert redis_client.llen("resque:queue:file_serve") == 1


@pytest.mark.usefixtures("shared")
def test_inline_context_manager(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    with inline():
        enqueue(Archive, 1)
        with inline(False):
            enqueue(Archive, 2)
        Typed.enqueue_in(60, 3)
    assert RAN == [("Archive", [1, "master"]), ("Typed", [3])]
    assert [job["args"] for job in queued(redis_client, "file_serve")] == [[2]]
    monkeypatch.setenv("RESQUE_INLINE", "1")
    with inline(False):
        enqueue(Archive, 4)
    assert redis_client.llen("resque:queue:file_serve") == 2
    assert resque_proto.inline is inline


def test_inline_needs_the_class_and_checks_the_payload(redis_client: redis.Redis) -> None:
    with inline(), pytest.raises(ValidationError, match="needs its class"):
        enqueue("file_serve", "Archive", 44)
    with inline(), pytest.raises(ValidationError, match="args"):
        enqueue(Archive, object())
    assert RAN == [] and redis_client.dbsize() == 0


def test_an_exception_in_an_inline_job_propagates_after_on_failure() -> None:
    Hooked.fail = True
    with inline(), pytest.raises(RuntimeError, match="disk full"):
        Hooked.enqueue(5)
    assert RAN[-2:] == [("perform", [5]), ("on_failure", ["disk full", 5])]


def test_inline_runs_the_job_hooks_in_resques_order() -> None:
    with inline():
        Hooked.enqueue(1)
        Hooked.skip = True
        Hooked.enqueue(2)
    assert RAN == [
        ("before_a", [1]),
        ("before_b", [1]),
        ("around_1 in", [1]),
        ("around_2 in", [1]),
        ("perform", [1]),
        ("around_1 out", [1]),
        ("after", [1]),
        ("before_a", [2]),  # DontPerform: skipped quietly, no failure hooks
    ]
