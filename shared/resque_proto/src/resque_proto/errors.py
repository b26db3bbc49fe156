"""Exceptions raised by resque_proto; every one says what was wrong and where."""


class ResqueProtoError(Exception):
    """Base class of everything resque_proto raises on purpose."""


class ValidationError(ResqueProtoError, ValueError):
    """A queue name, class name or argument list that cannot be enqueued."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MalformedPayload(ResqueProtoError, ValueError):
    """Bytes found in Redis that are not a Resque job payload."""


class FailureMoved(ResqueProtoError, LookupError):
    """A failure record is no longer where the caller saw it (changed concurrently)."""
