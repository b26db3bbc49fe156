"""Bytes from Redis to text, keeping undecodable bytes round-trippable."""

from __future__ import annotations

from collections.abc import Iterable


def text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


def texts(values: Iterable[bytes | str]) -> list[str]:
    return [
        value.decode("utf-8", errors="surrogateescape") if isinstance(value, bytes) else value
        for value in values
    ]
