import multiprocessing

import pytest
import redis

from resque_proto import Resque, ValidationError, connect
from resque_proto.jobs import RetryLater
from resque_proto.payload import decode_payload
from resque_proto.text import text


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


def test_push_is_what_ruby_enqueue_writes(resque: Resque, redis_client: redis.Redis) -> None:
    resque.enqueue("file_serve", "Archive", 0, "branch-0", metadata=False)
    assert redis_client.lrange("resque:queue:file_serve", 0, -1) == [
        b'{"class":"Archive","args":[0,"branch-0"]}'
    ]
    assert redis_client.smembers("resque:queues") == {b"file_serve"}


def test_enqueue_with_metadata_adds_id_and_time_after_args(resque: Resque) -> None:
    job = decode_payload(resque.enqueue("q", "Archive", 44))
    assert list(job.extras) == ["id", "enqueued_at"]
    assert resque.queues.oldest_enqueued_at("q") == job.extras["enqueued_at"]


def test_namespace_prefixes_every_key(redis_url: str, redis_client: redis.Redis) -> None:
    Resque(connect(redis_url), namespace="staging").enqueue("q", "A", metadata=False)
    assert set(redis_client.keys("*")) == {b"staging:queues", b"staging:queue:q"}


def test_batch_with_one_invalid_job_writes_nothing(
    resque: Resque, redis_client: redis.Redis
) -> None:
    with pytest.raises(ValidationError):
        resque.enqueue_many([("a", "Archive", [1]), ("b", "Archive", [2]), ("c", "9bad", [])])
    assert redis_client.keys("*") == []


def test_batch_is_written_in_order_across_queues(resque: Resque) -> None:
    resque.enqueue_many([("a", "A", [1]), ("b", "B", [2]), ("a", "A", [3])], metadata=False)
    assert [j.args for j in resque.queues.peek("a")] == [[1], [3]]
    assert resque.queues.sizes() == {"a": 2, "b": 1}


def test_reserve_takes_from_queues_in_priority_order(
    resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue("low", "A", "l", metadata=False)
    resque.enqueue("high", "A", "h", metadata=False)
    first = resque.jobs.reserve("w:1:high,low", ["high", "low"])
    assert first is not None and first.queue == "high"
    working = text(redis_client.get("resque:worker:w:1:high,low")) or ""
    assert working.startswith('{"queue":"high","run_at":"')
    assert working.endswith(',"payload":{"class":"A","args":["h"]}}')
    assert resque.jobs.in_flight("w:1:high,low") == [first]
    assert resque.jobs.reserve("w:1:high,low", ["nothing"]) is None


def test_finish_acks_counts_and_is_idempotent(resque: Resque, redis_client: redis.Redis) -> None:
    resque.enqueue("q", "A", metadata=False)
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None
    assert resque.jobs.finish("w", job, 0.003) is True
    assert resque.jobs.finish("w", job, 0.003) is False
    assert resque.stats.processed() == 1 and resque.stats.processed("w") == 1
    assert resque.jobs.in_flight("w") == [] and redis_client.get("resque:worker:w") is None
    assert redis_client.hgetall("resque:pyresque:duration:q") == {
        b"0.005": b"1",
        b"sum": b"0.003",
        b"count": b"1",
    }


def test_finish_with_failure_writes_record_and_counts(resque: Resque) -> None:
    resque.enqueue("q", "A", metadata=False)
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None
    resque.jobs.finish("w", job, 0.1, failure_record='{"failed_at":"x"}')
    assert resque.failures.count() == 1
    assert (resque.stats.failed(), resque.stats.failed("w"), resque.stats.processed()) == (1, 1, 1)


def test_requeue_puts_the_job_back_at_the_front(resque: Resque) -> None:
    resque.enqueue_many([("q", "A", [1]), ("q", "A", [2])], metadata=False)
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None
    assert resque.jobs.requeue("w", job) is True
    assert resque.jobs.requeue("w", job) is False
    assert [j.args for j in resque.queues.peek("q")] == [[1], [2]]


def test_malformed_payload_is_reserved_and_recorded_readably(
    resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.rpush("resque:queue:q", b"{not json")
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None and job.payload == "{not json"
    assert redis_client.get("resque:worker:w") is not None
    assert b'"payload":"{not json"' in (redis_client.get("resque:worker:w") or b"")


def test_non_utf8_payload_round_trips_exactly(resque: Resque, redis_client: redis.Redis) -> None:
    redis_client.rpush("resque:queue:q", b"\xff\xfe bytes")
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None
    resque.jobs.requeue("w", job)
    assert redis_client.lrange("resque:queue:q", 0, -1) == [b"\xff\xfe bytes"]


def test_remove_jobs_by_class_and_by_exact_args(resque: Resque) -> None:
    resque.enqueue_many([("q", "A", [1]), ("q", "B", [1]), ("q", "A", [2])], metadata=False)
    assert resque.queues.remove_jobs("q", "A", [2]) == 1
    assert resque.queues.remove_jobs("q", "A") == 1
    assert [j.class_name for j in resque.queues.peek("q")] == ["B"]
    resque.queues.remove_queue("q")
    assert resque.queues.names() == [] and resque.queues.size("q") == 0


def _drain(url: str, worker_id: str, out: "multiprocessing.Queue[list[str]]") -> None:
    resque = Resque(connect(url))
    taken = []
    while (job := resque.jobs.reserve(worker_id, ["a", "b"])) is not None:
        taken.append(job.payload)
        resque.jobs.finish(worker_id, job, 0.0)
    out.put(taken)


def test_eight_processes_take_each_of_10000_jobs_exactly_once(
    resque: Resque, redis_url: str
) -> None:
    jobs = [("a" if n % 2 else "b", "A", [n]) for n in range(10_000)]
    for start in range(0, len(jobs), 1000):
        resque.enqueue_many(jobs[start : start + 1000], metadata=False)
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[list[str]] = context.Queue()
    procs = [context.Process(target=_drain, args=(redis_url, f"h:{n}:a,b", out)) for n in range(8)]
    for proc in procs:
        proc.start()
    taken = [payload for _ in procs for payload in out.get(timeout=120)]
    for proc in procs:
        proc.join(timeout=30)
    assert len(taken) == 10_000
    assert sorted(decode_payload(p).args[0] for p in taken) == list(range(10_000))
    assert resque.stats.processed() == 10_000


def test_a_large_batch_is_pushed_in_order(resque: Resque) -> None:
    resque.enqueue_many([("big", "A", [n]) for n in range(2500)], metadata=False)
    assert [j.args[0] for j in resque.queues.peek("big", 0, 2500)] == list(range(2500))


def test_finish_writes_nothing_when_a_key_has_the_wrong_type(
    resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue("q", "A", metadata=False)
    job = resque.jobs.reserve("w", ["q"])
    assert job is not None
    redis_client.set("resque:failed", "oops")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        resque.jobs.finish("w", job, 0.1, failure_record="{}")
    assert resque.jobs.in_flight("w") == [job] and resque.stats.processed() == 0


def test_non_utf8_bytes_survive_a_write_from_str(redis_url: str) -> None:
    """A payload read as str with surrogate escapes is written back as its bytes: our
    connections pack with redis-py's packer (surrogateescape) even where hiredis, whose
    packer would raise, is installed."""
    client = connect(redis_url)
    client.rpush("resque:queue:raw", b"\xff\xfe bytes".decode("utf-8", "surrogateescape"))
    assert client.lrange("resque:queue:raw", 0, -1) == [b"\xff\xfe bytes"]


def test_the_worker_scripts_build_the_key_names_keys_gives(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """The reserve and finish scripts build their key names from the namespace and the
    worker id (their arguments are fewer that way): every key they write is Keys'."""
    resque = Resque(connect(redis_url), namespace="staging", status_ttl=60)
    keys, worker = resque.keys, "host:7:q"
    resque.enqueue_many([("q", "A", [1]), ("q", "A", [2])])
    first = resque.jobs.reserve(worker, ["q"])
    assert first is not None
    assert redis_client.exists(keys.inflight(worker), keys.worker(worker)) == 2
    status = resque.jobs.status_of("q", first.payload, "failed")
    assert status is not None
    done, second = resque.jobs.finish_then_reserve(
        worker, first, 0.01, '{"failed_at":"x"}', status=status,
        retry=RetryLater(1_900_000_000, '{"class":"A","args":[1]}'), queues=["q"],
    )  # fmt: skip
    assert done and second is not None
    assert resque.jobs.finish(worker, second, 0.02) is True
    job_ids = [j.extras["id"] for j in map(decode_payload, (first.payload, second.payload))]
    assert {text(k) for k in redis_client.keys("*")} == {
        keys.queues, keys.failed, keys.stat("processed"), keys.stat("processed", worker),
        keys.stat("failed"), keys.stat("failed", worker), keys.durations("q"), keys.retries,
        keys.delayed_schedule, keys.delayed(1_900_000_000),
        keys.delayed_timestamps('{"class":"A","args":[1]}'),
        *(keys.status(job_id) for job_id in job_ids),
    }  # fmt: skip
    assert resque.stats.processed(worker) == 2 and resque.stats.failed(worker) == 1
