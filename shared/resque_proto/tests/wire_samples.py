"""Samples from the Redis dumps written by real Ruby Resque 3.0 (see wire/README.md)."""

from __future__ import annotations

from pathlib import Path

WIRE = Path(__file__).parent / "wire"
UTC_DUMP = WIRE / "ruby-resque-3.0-keys.txt"
BERLIN_DUMP = WIRE / "ruby-resque-3.0-keys-TZ-Europe-Berlin.txt"


def values(dump: Path, key: str) -> list[str]:
    """Every sample value printed under ``key`` (4-space indented lines), in file order."""
    found: list[str] = []
    lines = dump.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("[") and line.split("] ", 1)[-1] == key:
            for sample in lines[number + 1 :]:
                if not sample.startswith("    "):
                    break
                if not sample.strip().startswith("..."):
                    found.append(sample[4:])
    return found


def awkward_encoding() -> str:
    """Section 0: how Resque.encode writes awkward values."""
    text = UTC_DUMP.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if "MultiJson::Adapters::JsonGem:" in x)
    return line.split("JsonGem: ", 1)[1]


def readme_record(marker: str) -> str:
    """A record from wire/README.md: the first JSON line after a comment containing marker."""
    lines = (WIRE / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    return next(line.strip() for line in lines[start + 1 :] if line.strip().startswith("{"))
