"""A restarted container keeps its hostname and often its pid, hence the worker id.

The new worker must recover what its dead predecessor still held under that id:
its heartbeat would otherwise keep the pruner away from those jobs forever.
"""

from __future__ import annotations

from resque_proto import Resque
from resque_worker.config import load
from resque_worker.registry import JobRegistry
from resque_worker.worker import Worker


def test_a_worker_recovers_jobs_its_id_held_before_it_started(
    resque: Resque, redis_url: str
) -> None:
    config = load([], {"REDIS_URL": redis_url, "QUEUES": "restart", "RESQUE_JOBS": ""})
    worker = Worker(config, JobRegistry.from_modules(config.job_modules))
    resque.enqueue("restart", "Archive", 44)
    held = resque.jobs.reserve(worker.id, ["restart"])  # the previous life's job
    assert held is not None and resque.queues.size("restart") == 0

    worker.housekeeping()  # first registration

    assert resque.jobs.in_flight(worker.id) == []
    assert [job.raw for job in resque.queues.peek("restart", 0, 10)] == [held.payload]
    info = resque.workers.get(worker.id)
    assert info is not None and info.job is None
