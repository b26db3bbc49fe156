"""The project's version, as every part reports it (``--version``, ``resque_build_info``).

Read from the installed ``resque-proto`` distribution, so it has one source: the
version the packages are built with.
"""

from __future__ import annotations

import argparse
import platform
from importlib.metadata import version

__all__ = ["VERSION", "add_version_flag", "build_labels", "version_line"]

VERSION = version("resque-proto")


def version_line(program: str) -> str:
    """``resque-worker, version 0.1.0`` (the format click's ``--version`` prints)."""
    return f"{program}, version {VERSION}"


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """``--version`` on an argparse command line: print :func:`version_line` and exit 0."""
    parser.add_argument("--version", action="version", version=version_line(parser.prog))


def build_labels(part: str) -> dict[str, str]:
    """Labels of the ``resque_build_info`` gauge (always 1) that every part exports."""
    return {"part": part, "version": VERSION, "python": platform.python_version()}
