"""Enqueuing from Python: job classes, one shared client per process, inline mode.

    from resque_proto import enqueue, job

    @job(queue="file_serve")
    class Archive:
        @staticmethod
        def perform(repo_id, branch="master"): ...

    Archive.enqueue(44)                   # Ruby's Resque.enqueue(Archive, 44)
    Archive.enqueue_in(300, 45)           # resque-scheduler's enqueue_in (also enqueue_at)
    enqueue(Archive, 44)                  # the same, as a function: the class's queue
    enqueue_to("urgent", Archive, 44)     # Resque.enqueue_to: another queue
    enqueue("file_serve", "Archive", 44)  # by name, for classes this process cannot import
    enqueue_front(Archive, 44)            # to the head of the queue: it runs next
    dequeue(Archive, 44)                  # Resque.dequeue: remove queued jobs, a count

Every enqueue call takes either a job class first (its ``queue`` gives the queue), or
a queue name first and then a job class or class name: the first argument's type
decides, so both forms are unambiguous. Each returns an ``Enqueued``.

With the class in hand, Resque's producer hooks run around the call
(``resque_proto.producer_hooks``): ``before_enqueue*`` returning False cancels an
enqueue (the result is then an empty, falsey ``Enqueued``), ``before_dequeue*`` a
dequeue (None). Delayed enqueues run none, as resque-scheduler's.

The module-level functions and the class methods share one ``Resque`` client per
process (``shared_client``), configured from the environment on first use, rebuilt
in a forked child. ``RESQUE_INLINE=1`` or ``with inline():`` runs jobs at once, in
this process, instead of writing them to Redis (for tests).

``dequeue``, ``info`` and ``remove_worker`` are Ruby's ``Resque.dequeue``,
``Resque.info`` and ``Resque.remove_worker`` on the same client.

Redis-free at import: a ``RESQUE_JOBS`` module that uses ``@job`` is imported by the
worker before it forks its fork server, which must not load redis-py.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar, overload

from resque_proto import job_hooks
from resque_proto.delayed_payload import epoch_seconds
from resque_proto.errors import ValidationError
from resque_proto.payload import decode_payload, encode_payload, validate_class, validate_queue
from resque_proto.producer_hooks import DEQUEUE, ENQUEUE, run_after, run_before
from resque_proto.settings import env_bool

if TYPE_CHECKING:
    from resque_proto.client import Resque, ResqueInfo
    from resque_proto.recovery import Recovery

T = TypeVar("T", bound=type)

# The worker's registry (resque_worker.registry) reads Ruby names from this module
# attribute: {"Billing::Invoice": Invoice}. We write the name the worker looks up.
RUBY_NAMES_ATTRIBUTE = "RESQUE_CLASS_NAMES"
INLINE_ENV = "RESQUE_INLINE"
CLASS_METHODS = ("enqueue", "enqueue_in", "enqueue_at")

# A job batch item: (queue, job class or class name, args), or (job class, args).
JobSpec = tuple[str, type | str, Sequence[Any]] | tuple[type, Sequence[Any]]


class Enqueued(str):
    """What an enqueue wrote. It *is* the payload string (so code written when enqueue
    returned the bare payload keeps working, and ``remove_delayed_payload(result)``
    cancels a delayed job), with ``id`` (None without metadata), ``queue`` and
    ``scheduled_for`` (the due second of a delayed job, None if it was enqueued now).
    Immutable. Empty, so falsey, with no id, when a ``before_enqueue*`` hook cancelled
    the enqueue (Ruby's ``Resque.enqueue`` returns nil then): ``if not
    Archive.enqueue(44): ...``."""

    _id: str | None
    _queue: str
    _scheduled_for: int | None

    def __new__(
        cls, payload: str, id: str | None, queue: str, scheduled_for: int | None = None
    ) -> Enqueued:
        self = super().__new__(cls, payload)
        object.__setattr__(self, "_id", id)
        object.__setattr__(self, "_queue", queue)
        object.__setattr__(self, "_scheduled_for", scheduled_for)
        return self

    @property
    def id(self) -> str | None:
        """The job id (``GET /jobs/{id}``, the status key); None when enqueued without
        metadata."""
        return self._id

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def scheduled_for(self) -> int | None:
        """The second a delayed job is due (its ``delayed:<ts>``); None if enqueued now."""
        return self._scheduled_for

    @property
    def payload(self) -> str:
        """The exact payload written, as a plain ``str``."""
        return str(self)

    if not TYPE_CHECKING:  # hidden from type checkers, which then flag assignments too

        def __setattr__(self, name: str, value: object) -> NoReturn:
            raise AttributeError(f"Enqueued is immutable: cannot set {name!r}")

        def __delattr__(self, name: str) -> NoReturn:
            raise AttributeError(f"Enqueued is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Enqueued, (str(self), self.id, self.queue, self.scheduled_for))

    def __repr__(self) -> str:
        return (
            f"Enqueued(id={self.id!r}, queue={self.queue!r}, "
            f"scheduled_for={self.scheduled_for!r}, payload={str(self)!r})"
        )


@dataclass(frozen=True)
class Target:
    """Where a job goes and the class name its payload carries; ``job_class`` when known."""

    queue: str
    class_name: str
    job_class: type | None = None


# -- job classes ------------------------------------------------------------------


def job_name(job_class: type) -> str:
    """The ``class`` a payload for ``job_class`` carries: the name the worker's registry
    finds it by. That is the Ruby name its module maps it to in ``RESQUE_CLASS_NAMES``
    (the first, if several), so that Ruby workers can run it too; otherwise ``__name__``."""
    module = sys.modules.get(job_class.__module__)
    ruby_names = getattr(module, RUBY_NAMES_ATTRIBUTE, None)
    if isinstance(ruby_names, dict):
        for name, value in ruby_names.items():
            if value is job_class:
                return validate_class(str(name))
    return validate_class(job_class.__name__)


def queue_of(job_class: type) -> str:
    """Ruby's ``Resque.queue_from_class``: the class's ``queue`` attribute, or what its
    ``queue()`` returns if it is a method."""
    queue = getattr(job_class, "queue", None)
    if callable(queue):
        queue = queue()
    if queue is None or queue == "":
        raise ValidationError(
            "queue",
            f"job class {job_class.__qualname__} has no queue: give it a `queue = "
            f'"..."` attribute (or @job(queue="...")), or name one: '
            f"enqueue_to(queue, {job_class.__name__}, ...)",
        )
    return validate_queue(queue)


def target_to(queue: str, job: type | str, call: str = "enqueue_to") -> Target:
    """``queue`` given, then a job class or a class name."""
    validate_queue(queue)
    if isinstance(job, type):
        return Target(queue, job_name(job), job)
    if isinstance(job, str):
        return Target(queue, validate_class(job), None)
    raise TypeError(
        f"{call}: after the queue {queue!r} comes a job class or a class name, "
        f"not {type(job).__name__}"
    )


def resolve(
    first: object, rest: Sequence[Any], call: str = "enqueue"
) -> tuple[Target, tuple[Any, ...]]:
    """The two call forms: ``(JobClass, *args)`` or ``(queue, JobClass | "ClassName", *args)``."""
    if isinstance(first, type):
        return Target(queue_of(first), job_name(first), first), tuple(rest)
    if isinstance(first, str):
        if not rest:
            raise TypeError(
                f"{call}({first!r}): a queue name needs a job after it: "
                f"{call}({first!r}, Archive, *args), or {call}(Archive, *args) for the "
                "class's own queue"
            )
        return target_to(first, rest[0], call), tuple(rest[1:])
    raise TypeError(
        f"{call}: give a job class, or a queue name then a job class or class name; "
        f"got {type(first).__name__}"
    )


def resolve_spec(spec: JobSpec) -> tuple[Target, tuple[Any, ...]]:
    """One ``enqueue_many`` item: ``(queue, job, args)`` or ``(JobClass, args)``."""
    if len(spec) == 2 and isinstance(spec[0], type):
        job_class, args = spec
        return Target(queue_of(job_class), job_name(job_class), job_class), tuple(args)
    if len(spec) == 3 and isinstance(spec[0], str):
        queue, job, args = spec
        return target_to(queue, job, "enqueue_many"), tuple(args)
    raise TypeError(
        "enqueue_many: each job is (queue, job class or class name, args) or "
        f"(job class, args), not {spec!r:.80}"
    )


class ResqueJob:
    """Base class of a job class that enqueues itself (the typed alternative to ``@job``):

        class Archive(ResqueJob, queue="file_serve"):   # or a `queue = ...` attribute
            @staticmethod
            def perform(repo_id): ...

    It adds only the three class methods below; the worker runs the class as any other.
    """

    queue: ClassVar[str]

    def __init_subclass__(cls, *, queue: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if queue is not None:
            cls.queue = validate_queue(queue)

    @classmethod
    def enqueue(cls, *args: Any, metadata: bool = True) -> Enqueued:
        """``Resque.enqueue(cls, *args)`` on the class's queue."""
        return enqueue(cls, *args, metadata=metadata)

    @classmethod
    def enqueue_in(cls, seconds: float | timedelta, *args: Any, metadata: bool = True) -> Enqueued:
        """Run in ``seconds`` (resque-scheduler's ``enqueue_in``)."""
        return enqueue_in(seconds, cls, *args, metadata=metadata)

    @classmethod
    def enqueue_at(cls, when: datetime | float, *args: Any, metadata: bool = True) -> Enqueued:
        """Run at ``when``, a ``datetime`` or epoch seconds (``enqueue_at``)."""
        return enqueue_at(when, cls, *args, metadata=metadata)


@overload
def job(job_class: T, /) -> T: ...
@overload
def job(*, queue: str | None = None) -> Callable[[T], T]: ...
def job(job_class: T | None = None, /, *, queue: str | None = None) -> T | Callable[[T], T]:
    """Class decorator: ``@job(queue="file_serve")`` sets the class's ``queue`` and adds
    ``enqueue(*args)``, ``enqueue_in(seconds, *args)`` and ``enqueue_at(when, *args)``
    class methods. ``perform`` and everything else is untouched: the worker runs the
    class as any other. Bare ``@job`` keeps the class's own ``queue``.

    Type checkers do not see methods a decorator adds: with mypy, subclass
    ``ResqueJob`` instead, or call ``enqueue(Archive, 44)``."""

    if queue is not None:
        validate_queue(queue)

    def decorate(cls: T) -> T:
        if not callable(getattr(cls, "perform", None)):
            raise TypeError(f"@job: {cls.__qualname__} has no perform method")
        for name in CLASS_METHODS:
            if name in vars(cls):
                raise TypeError(f"@job: {cls.__qualname__} already defines {name}")
        if queue is not None:
            setattr(cls, "queue", queue)  # noqa: B010
        queue_of(cls)  # a class that cannot be enqueued is an error now, not at enqueue
        for name in CLASS_METHODS:
            setattr(cls, name, vars(ResqueJob)[name])
        return cls

    return decorate(job_class) if job_class is not None else decorate


# -- the shared client -----------------------------------------------------------------

_lock = threading.Lock()
_shared: tuple[int, Resque] | None = None  # (pid that built it, client)


def shared_client() -> Resque:
    """The process's ``Resque`` for the module-level functions and the class methods.

    Built on first use from the environment (what ``connect()`` reads, such as
    ``REDIS_URL``; ``RESQUE_NAMESPACE``, ``RESQUE_STATUS_TTL``), then reused: its
    connection pool is thread-safe. Building is under a lock, so threads racing on
    first use share one. A forked child never uses its parent's sockets: it builds its
    own (the pid is checked on every call, and the fork hook forgets the parent's
    client)."""
    global _shared
    shared = _shared
    pid = os.getpid()
    if shared is not None and shared[0] == pid:
        return shared[1]
    with _lock:
        if _shared is None or _shared[0] != pid:
            from resque_proto.client import Resque

            _shared = (pid, Resque())
        return _shared[1]


def reset_shared_client() -> None:
    """Close and forget the shared client: the next use builds one from the environment
    again (after changing ``REDIS_URL``, say)."""
    global _shared
    with _lock:
        shared, _shared = _shared, None
    if shared is not None and shared[0] == os.getpid():
        shared[1].redis.close()


def _forget_after_fork() -> None:
    """In a forked child: a new lock (another thread may have held the parent's at the
    fork) and no client. The parent's client is not closed: its sockets are the parent's."""
    global _lock, _shared
    _lock = threading.Lock()
    _shared = None


os.register_at_fork(after_in_child=_forget_after_fork)


# -- inline mode -----------------------------------------------------------------------

_inline: bool | None = None  # set by inline(); None: RESQUE_INLINE decides


def inline_enabled() -> bool:
    """``inline()`` if set, else ``RESQUE_INLINE`` (read at every call; a value that is
    not a boolean word is a ``BooleanSettingError``, as for every boolean setting)."""
    if _inline is not None:
        return _inline
    return env_bool(os.environ, INLINE_ENV, False)


@contextmanager
def inline(enabled: bool = True) -> Iterator[None]:
    """Ruby's ``Resque.inline``: inside, the module-level functions and the class methods
    run each job at once, in this process (``perform`` with its job hooks), and write
    nothing to Redis; delayed jobs run at once too. ``inline(False)`` turns it off inside
    a ``RESQUE_INLINE=1`` environment. Process-wide, like Ruby's; nests."""
    global _inline
    previous, _inline = _inline, enabled
    try:
        yield
    finally:
        _inline = previous


def run_inline(target: Target, args: Sequence[Any], metadata: bool) -> Enqueued:
    """Encode the job as it would be written, then run it from the decoded payload, so
    ``perform`` sees what a worker would (tuples become lists, as Ruby's inline does)."""
    if target.job_class is None:
        raise ValidationError(
            "class",
            f"inline mode ({INLINE_ENV} or resque_proto.inline()) runs the job in this "
            f"process and needs its class, not the name {target.class_name!r}: pass the "
            "class, e.g. enqueue(Archive, 44) or enqueue_to(queue, Archive, 44)",
        )
    from resque_proto.jobs import JOB_ID_KEY, new_job_metadata  # loads redis-py: not at import

    extras = new_job_metadata() if metadata else None
    payload = encode_payload(target.class_name, args, extras)
    if not callable(getattr(target.job_class, "perform", None)):
        raise TypeError(f"{target.job_class.__qualname__} has no perform method")
    job_hooks.perform(target.job_class, decode_payload(payload).args)
    return Enqueued(payload, extras[JOB_ID_KEY] if extras else None, target.queue)


# -- producer hooks --------------------------------------------------------------------


def enqueue_with_hooks(
    target: Target, args: Sequence[Any], write: Callable[[], Enqueued]
) -> Enqueued:
    """Resque.enqueue_to's order: ``before_enqueue*``, ``write`` (unless one returned
    False), ``after_enqueue*``; in inline mode ``write`` performs the job."""
    if not run_before(ENQUEUE, target.job_class, args):
        return Enqueued("", None, target.queue)
    written = write()
    run_after(ENQUEUE, target.job_class, args)
    return written


def dequeue_with_hooks(
    target: Target, args: Sequence[Any], remove: Callable[[], int]
) -> int | None:
    """Resque.dequeue's order: ``before_dequeue*``, ``remove`` (unless one returned
    False: then None), ``after_dequeue*``."""
    if not run_before(DEQUEUE, target.job_class, args):
        return None
    removed = remove()
    run_after(DEQUEUE, target.job_class, args)
    return removed


# -- module-level functions ------------------------------------------------------------


@overload
def enqueue(job_class: type, /, *args: Any, metadata: bool = True) -> Enqueued: ...
@overload
def enqueue(queue: str, job: type | str, /, *args: Any, metadata: bool = True) -> Enqueued: ...
def enqueue(first: type | str, /, *rest: Any, metadata: bool = True) -> Enqueued:
    """``enqueue(Archive, 44)`` (the class's queue) or ``enqueue("file_serve", "Archive",
    44)`` (a queue, then a class or class name). With ``metadata`` (the default) the
    payload carries an ``id`` and ``enqueued_at`` (docs/protocol.md, section 2)."""
    target, args = resolve(first, rest, "enqueue")
    return _enqueue(target, args, metadata)


def enqueue_to(queue: str, job: type | str, /, *args: Any, metadata: bool = True) -> Enqueued:
    """Ruby's ``Resque.enqueue_to``: on ``queue``, whatever the class's own queue."""
    return _enqueue(target_to(queue, job), args, metadata)


@overload
def enqueue_front(job_class: type, /, *args: Any, metadata: bool = True) -> Enqueued: ...
@overload
def enqueue_front(
    queue: str, job: type | str, /, *args: Any, metadata: bool = True
) -> Enqueued: ...
def enqueue_front(first: type | str, /, *rest: Any, metadata: bool = True) -> Enqueued:
    """``enqueue``, but to the head of the queue (``LPUSH``, where Resque ``RPUSH``es):
    the job runs next. Same call forms, hooks and inline mode."""
    target, args = resolve(first, rest, "enqueue_front")
    return _enqueue(target, args, metadata, front=True)


def _enqueue(
    target: Target, args: Sequence[Any], metadata: bool, *, front: bool = False
) -> Enqueued:
    if inline_enabled():
        return enqueue_with_hooks(target, args, lambda: run_inline(target, args, metadata))
    return shared_client().enqueue_target(target, args, metadata, front=front)


@overload
def enqueue_at(
    when: datetime | float, job_class: type, /, *args: Any, metadata: bool = True
) -> Enqueued: ...
@overload
def enqueue_at(
    when: datetime | float, queue: str, job: type | str, /, *args: Any, metadata: bool = True
) -> Enqueued: ...
def enqueue_at(
    when: datetime | float, first: type | str, /, *rest: Any, metadata: bool = True
) -> Enqueued:
    """resque-scheduler's ``enqueue_at``: run at ``when`` (a ``datetime`` or epoch
    seconds), or now if that is not in the future. Returns the delayed payload: pass it to
    ``Resque.remove_delayed_payload`` to cancel."""
    target, args = resolve(first, rest, "enqueue_at")
    return _schedule(when, target, args, metadata)


def _schedule(
    when: datetime | float, target: Target, args: Sequence[Any], metadata: bool
) -> Enqueued:
    epoch_seconds(when)  # a bad time is an error in inline mode too
    if inline_enabled():
        return run_inline(target, args, metadata)
    return shared_client().schedule_target(when, target, args, metadata)


@overload
def enqueue_in(
    seconds: float | timedelta, job_class: type, /, *args: Any, metadata: bool = True
) -> Enqueued: ...
@overload
def enqueue_in(
    seconds: float | timedelta,
    queue: str,
    job: type | str,
    /,
    *args: Any,
    metadata: bool = True,
) -> Enqueued: ...
def enqueue_in(
    seconds: float | timedelta, first: type | str, /, *rest: Any, metadata: bool = True
) -> Enqueued:
    """resque-scheduler's ``enqueue_in``: run in ``seconds`` (a number or a ``timedelta``)."""
    target, args = resolve(first, rest, "enqueue_in")
    return _schedule(time.time() + delay_seconds(seconds), target, args, metadata)


def enqueue_many(jobs: Iterable[JobSpec], *, metadata: bool = True) -> list[Enqueued]:
    """Enqueue ``(queue, job, args)`` or ``(JobClass, args)`` items atomically: a bad one
    writes nothing. A job a ``before_enqueue*`` hook cancels is left out of the batch
    and of the result. Inline, each runs in order, between its hooks."""
    resolved = [resolve_spec(spec) for spec in jobs]
    if not inline_enabled():
        return shared_client().enqueue_targets(resolved, metadata)
    ran = [
        enqueue_with_hooks(target, args, functools.partial(run_inline, target, args, metadata))
        for target, args in resolved
    ]
    return [result for result in ran if result]


@overload
def dequeue(job_class: type, /, *args: Any) -> int | None: ...
@overload
def dequeue(queue: str, job: type | str, /, *args: Any) -> int | None: ...
def dequeue(first: type | str, /, *rest: Any) -> int | None:
    """Ruby's ``Resque.dequeue(Archive, 44)``: remove the queued jobs of the class with
    these arguments (every job of the class without any) and return how many, or None
    if a ``before_dequeue*`` hook returned False. Payloads carrying our ``id`` and
    ``enqueued_at`` match too (``Queues.remove_jobs``). In inline mode the hooks run
    and it returns 0 without Redis: nothing inline mode enqueued is in a queue."""
    target, args = resolve(first, rest, "dequeue")
    if inline_enabled():
        return dequeue_with_hooks(target, args, lambda: 0)
    return shared_client().dequeue_target(target, args)


def info() -> ResqueInfo:
    """Ruby's ``Resque.info``, from the shared client (see ``Resque.info``)."""
    return shared_client().info()


def remove_worker(worker_id: str) -> Recovery | None:
    """Ruby's ``Resque.remove_worker``, on the shared client (see ``Resque.remove_worker``)."""
    return shared_client().remove_worker(worker_id)


def delay_seconds(seconds: float | timedelta) -> float:
    return seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
