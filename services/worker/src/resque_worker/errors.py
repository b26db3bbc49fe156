"""Exceptions job code may raise or see, with Resque's meanings."""

from __future__ import annotations

from resque_proto.job_hooks import DontPerform

__all__ = ["DirtyExit", "DontPerform", "TermException", "UnknownJobClass"]


class TermException(BaseException):
    """Raised inside a job when its worker is told to stop it (``TERM_CHILD``).

    A BaseException, as Ruby's is a SignalException: ``except Exception`` in job
    code does not swallow it. Recorded as ``Resque::TermException``.
    """


class UnknownJobClass(LookupError):
    """A payload names a class that no ``RESQUE_JOBS`` module defines."""


class DirtyExit(Exception):
    """Passed to ``on_failure*`` hooks (run in the worker parent, as Resque does) when the
    child died without reporting: killed by a signal, a bad exit status, a job timeout."""
