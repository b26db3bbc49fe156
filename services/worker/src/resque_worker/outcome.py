"""What became of one job, as the child reports it to the parent over a pipe.

Small JSON: ``{"ok":true}`` or ``{"ok":false,"exception":...,"error":...,
"backtrace":[...]}``; the parent turns a failure into a Resque failure record.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field

from resque_proto.records import TERM_EXCEPTION
from resque_worker.errors import TermException


@dataclass(frozen=True)
class Outcome:
    ok: bool
    exception: str = ""
    error: str = ""
    backtrace: list[str] = field(default_factory=list)

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
        }
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
        backtrace = body.get("backtrace")
        return cls(
            ok=body["ok"],
            exception=str(body.get("exception", "")),
            error=str(body.get("error", "")),
            backtrace=[str(line) for line in backtrace] if isinstance(backtrace, list) else [],
        )

    @classmethod
    def failed(cls, exception: str, error: str, backtrace: list[str] | None = None) -> Outcome:
        return cls(ok=False, exception=exception, error=error, backtrace=backtrace or [])

    @classmethod
    def from_exception(cls, error: BaseException) -> Outcome:
        name = TERM_EXCEPTION if isinstance(error, TermException) else exception_name(type(error))
        return cls.failed(name, str(error), ruby_backtrace(error))


SUCCESS = Outcome(ok=True)


def exception_name(kind: type) -> str:
    """``ValueError`` for builtins, ``package.module.Error`` otherwise."""
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def ruby_backtrace(error: BaseException) -> list[str]:
    """Frames innermost first, as Ruby prints them: ``path:line:in `function'``."""
    frames = traceback.extract_tb(error.__traceback__)
    return [f"{frame.filename}:{frame.lineno}:in `{frame.name}'" for frame in reversed(frames)]
