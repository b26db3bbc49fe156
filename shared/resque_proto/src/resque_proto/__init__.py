"""resque_proto: the Resque 3.0 wire format and its Redis operations.

Everything about bytes in Redis lives here: key names (``keys``), payload JSON
(``payload``), records and time formats (``records``, ``timefmt``), and the
operations (``Resque``, one object per namespace). No web framework.

    >>> from resque_proto import enqueue, job
    >>> @job(queue="file_serve")
    ... class Archive:
    ...     @staticmethod
    ...     def perform(repo_id): ...
    >>> Archive.enqueue(44).id                   # Resque.enqueue(Archive, 44)
    >>> enqueue("file_serve", "Archive", 44)     # by name (resque_proto.producer)

The names below are loaded on first use (PEP 562), so importing a redis-free
module such as ``resque_proto.payload`` does not load redis-py (~20 MB): the
worker's fork server relies on that to stay small.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resque_proto.client import Resque
    from resque_proto.connection import connect
    from resque_proto.errors import (
        FailureMoved,
        MalformedPayload,
        ResqueProtoError,
        ValidationError,
    )
    from resque_proto.jobs import Reserved
    from resque_proto.payload import Job, decode_payload, encode_payload
    from resque_proto.producer import (
        Enqueued,
        ResqueJob,
        dequeue,
        enqueue,
        enqueue_at,
        enqueue_front,
        enqueue_in,
        enqueue_many,
        enqueue_to,
        info,
        inline,
        job,
        remove_worker,
    )
    from resque_proto.prune import PrunePolicy
    from resque_proto.queue_patterns import resolve_queues
    from resque_proto.recovery import Recovery
    from resque_proto.waiter import QueueWaiter
    from resque_proto.workers import WorkerInfo

_HOME = {
    "Enqueued": "producer",
    "FailureMoved": "errors",
    "Job": "payload",
    "MalformedPayload": "errors",
    "PrunePolicy": "prune",
    "QueueWaiter": "waiter",
    "Recovery": "recovery",
    "Reserved": "jobs",
    "Resque": "client",
    "ResqueJob": "producer",
    "ResqueProtoError": "errors",
    "ValidationError": "errors",
    "WorkerInfo": "workers",
    "connect": "connection",
    "decode_payload": "payload",
    "dequeue": "producer",
    "encode_payload": "payload",
    "enqueue": "producer",
    "enqueue_at": "producer",
    "enqueue_front": "producer",
    "enqueue_in": "producer",
    "enqueue_many": "producer",
    "enqueue_to": "producer",
    "info": "producer",
    "inline": "producer",
    "job": "producer",
    "remove_worker": "producer",
    "resolve_queues": "queue_patterns",
}
__all__ = [
    "Enqueued",
    "FailureMoved",
    "Job",
    "MalformedPayload",
    "PrunePolicy",
    "QueueWaiter",
    "Recovery",
    "Reserved",
    "Resque",
    "ResqueJob",
    "ResqueProtoError",
    "ValidationError",
    "WorkerInfo",
    "connect",
    "decode_payload",
    "dequeue",
    "encode_payload",
    "enqueue",
    "enqueue_at",
    "enqueue_front",
    "enqueue_in",
    "enqueue_many",
    "enqueue_to",
    "info",
    "inline",
    "job",
    "remove_worker",
    "resolve_queues",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'resque_proto' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"resque_proto.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
