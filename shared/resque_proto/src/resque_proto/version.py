"""The project's version, as every part reports it (``--version``, ``resque_build_info``).

One source: the repository's VERSION file, which hatchling writes into
``resque_proto/_version.py`` when the package is built or installed (editable
installs too). Not ``importlib.metadata``: importing it maps enough memory to
halve the rate at which a process can fork, and the worker's fork server needs
the version for its process titles (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import platform

from resque_proto._version import VERSION

__all__ = ["VERSION", "add_version_flag", "build_labels", "version_line"]


def version_line(program: str) -> str:
    """``resque-worker, version 0.1.0`` (the format click's ``--version`` prints)."""
    return f"{program}, version {VERSION}"


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """``--version`` on an argparse command line: print :func:`version_line` and exit 0."""
    parser.add_argument("--version", action="version", version=version_line(parser.prog))


def build_labels(part: str) -> dict[str, str]:
    """Labels of the ``resque_build_info`` gauge (always 1) that every part exports."""
    return {"part": part, "version": VERSION, "python": platform.python_version()}
