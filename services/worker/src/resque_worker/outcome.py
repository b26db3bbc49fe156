"""What became of one job, as the child reports it (over its socket to the zygote, which
passes it on to the parent).

Small JSON: ``{"ok":true}`` or ``{"ok":false,"exception":...,"error":...,
"backtrace":[...]}``, plus ``hook_exception``/``hook_error`` when an
``on_failure`` hook raised too; the parent turns a failure into a Resque
failure record.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field, replace

from resque_proto import job_hooks as hooks
from resque_proto.payload import Job
from resque_proto.records import TERM_EXCEPTION
from resque_proto.retry import exception_name, lineage
from resque_worker.errors import TermException


@dataclass(frozen=True)
class Outcome:
    ok: bool
    exception: str = ""
    error: str = ""
    backtrace: list[str] = field(default_factory=list)
    # The names the exception answers to (its class and bases), for retry policies.
    lineage: list[str] = field(default_factory=list)
    # What an on_failure hook raised while handling this failure, if one did.
    hook_exception: str = ""
    hook_error: str = ""

    @property
    def interrupted(self) -> bool:
        """The job stopped because the worker told it to (TERM_CHILD)."""
        return self.exception == TERM_EXCEPTION

    def encode(self) -> bytes:
        if self.ok:
            return b'{"ok":true}'
        body = {
            "ok": False,
            "exception": self.exception,
            "error": self.error,
            "backtrace": self.backtrace,
            "lineage": self.lineage,
        }
        if self.hook_exception:
            body |= {"hook_exception": self.hook_exception, "hook_error": self.hook_error}
        return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8", "replace")

    @classmethod
    def decode(cls, data: bytes) -> Outcome | None:
        """The reported outcome, or None when the bytes are not a complete report."""
        try:
            body = json.loads(data.decode("utf-8", "replace"))
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            return None
        return cls(
            ok=body["ok"],
            exception=str(body.get("exception", "")),
            error=str(body.get("error", "")),
            backtrace=_strings(body.get("backtrace")),
            lineage=_strings(body.get("lineage")),
            hook_exception=str(body.get("hook_exception", "")),
            hook_error=str(body.get("hook_error", "")),
        )

    @classmethod
    def failed(cls, exception: str, error: str, backtrace: list[str] | None = None) -> Outcome:
        return cls(ok=False, exception=exception, error=error, backtrace=backtrace or [])

    @classmethod
    def from_exception(cls, error: BaseException) -> Outcome:
        name = TERM_EXCEPTION if isinstance(error, TermException) else exception_name(type(error))
        outcome = cls(
            ok=False,
            exception=name,
            error=str(error),
            backtrace=ruby_backtrace(error),
            lineage=lineage(type(error)),
        )
        hook_error = hooks.failure_hook_error(error)
        return outcome if hook_error is None else outcome.with_hook_error(hook_error)

    def with_hook_error(self, hook_error: BaseException) -> Outcome:
        return replace(self, hook_exception=exception_name(type(hook_error)),
                       hook_error=str(hook_error))  # fmt: skip

    def record_error(self, queue: str, job: Job | None) -> str:
        """The failure record's ``error``: the job's, or Resque's message naming both
        errors when an ``on_failure`` hook raised as well."""
        if not self.hook_exception or job is None:
            return self.error
        return hooks.failure_hook_message(
            hook_exception=self.hook_exception, hook_error=self.hook_error, queue=queue,
            class_name=job.class_name, args=job.args, exception=self.exception, error=self.error,
        )  # fmt: skip

    @property
    def names(self) -> list[str]:
        """What a retry policy matches against: the lineage, or the bare name for
        failures the parent judged (a dirty exit, a timeout)."""
        return self.lineage or [self.exception]


SUCCESS = Outcome(ok=True)


def ruby_backtrace(error: BaseException) -> list[str]:
    """Frames innermost first, as Ruby prints them: ``path:line:in `function'``."""
    frames = traceback.extract_tb(error.__traceback__)
    return [f"{frame.filename}:{frame.lineno}:in `{frame.name}'" for frame in reversed(frames)]


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
