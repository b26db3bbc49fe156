"""What happens to a job in every failure case: a record, and a worker that carries on."""

from __future__ import annotations

import re
from collections.abc import Callable

from worker_harness import Events, WorkerProcess, wait_for

from resque_proto import Resque
from resque_proto.records import Failure

Spawn = Callable[..., WorkerProcess]


def only_failure(resque: Resque) -> Failure:
    failures: list[Failure] = wait_for(resque.failures.all, what="a failure record")
    assert len(failures) == 1
    return failures[0]


def carries_on(resque: Resque, events: Events) -> None:
    resque.enqueue("test", "Record", "still-working")
    wait_for(lambda: events.of("ran", tag="still-working"), what="the worker's next job")


def test_a_failing_job_is_recorded_with_its_exception_and_backtrace(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    resque.enqueue("test", "FailingArchive", 44, "disk full")
    failure = only_failure(resque)
    assert failure.raw.startswith('{"failed_at":')
    assert failure.exception == "resque_worker.examples.ArchiveError"
    assert failure.error == "cannot archive repository 44: disk full"
    assert re.fullmatch(r".*examples\.py:\d+:in `perform'", failure.backtrace[0])
    assert failure.worker == worker.id and failure.queue == "test"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \S+", failure.failed_at or "")
    carries_on(resque, events)
    assert resque.stats.processed() == 2 and resque.stats.failed() == 1
    assert resque.stats.processed(worker.id) == 2 and resque.stats.failed(worker.id) == 1


def test_a_child_killed_by_a_signal_is_a_dirty_exit_naming_it(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "KillSelf")
    failure = only_failure(resque)
    child = events.of("start", tag="killself")[0]["pid"]
    assert failure.exception == "Resque::DirtyExit"
    assert (
        failure.error == f"Child process received unhandled signal pid {child} SIGKILL (signal 9)"
    )
    carries_on(resque, events)


def test_a_child_exiting_with_a_status_is_a_dirty_exit(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "ExitWith", 3)
    failure = only_failure(resque)
    assert failure.exception == "Resque::DirtyExit"
    assert "exited with status 3" in (failure.error or "")
    carries_on(resque, events)


def test_a_job_past_its_timeout_is_killed_and_recorded(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker(RESQUE_JOB_TIMEOUT="1")
    resque.enqueue("test", "Sleep", "slow", 60)
    failure = only_failure(resque)
    child = events.of("start", tag="slow")[0]["pid"]
    assert failure.exception == "Resque::DirtyExit"
    assert (failure.error or "").startswith("Job timed out after 1s")
    assert f"pid {child}" in (failure.error or "")
    assert not events.of("finish", tag="slow")
    carries_on(resque, events)


def test_an_unknown_class_is_a_failure_record_and_never_imports(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "os.system", "true")
    failure = only_failure(resque)
    assert failure.exception == "UnknownJobClass"
    assert "uninitialized constant os.system" in (failure.error or "")
    carries_on(resque, events)


def test_malformed_payloads_become_failure_records(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    for raw in ("{not json", "[1,2]", '{"args":[1]}', '{"class":"Record","args":"x"}'):
        resque.jobs.push_payload("test", raw)
    wait_for(lambda: resque.failures.count() == 4, what="four failure records")
    failures = resque.failures.all()
    assert {f.exception for f in failures} == {"MalformedPayload"}
    assert failures[0].payload == {"class": None, "args": [], "raw": "{not json"}
    assert failures[1].payload == [1, 2]
    carries_on(resque, events)


def test_ruby_class_names_map_to_declared_python_classes(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "Billing::Invoice", "from-rails", metadata=False)
    wait_for(lambda: events.of("ran", tag="from-rails"), what="the mapped class to run")
