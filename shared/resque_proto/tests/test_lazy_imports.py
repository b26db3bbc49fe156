"""The wire-format modules load without redis-py; the package's names still resolve."""

from __future__ import annotations

import subprocess
import sys

import resque_proto

REDIS_FREE = """
import sys
import resque_proto.payload, resque_proto.records, resque_proto.connection
import resque_proto.queue_patterns, resque_proto.keys, resque_proto.timefmt
import resque_proto.delayed_payload, resque_proto.retry, resque_proto.status
import resque_proto.settings
print("redis" in sys.modules)
"""


def test_wire_format_modules_do_not_import_redis() -> None:
    result = subprocess.run(
        [sys.executable, "-c", REDIS_FREE], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_exported_name_resolves() -> None:
    for name in resque_proto.__all__:
        assert getattr(resque_proto, name) is not None
    assert resque_proto.Resque.__module__ == "resque_proto.client"


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        resque_proto.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


FORK_SERVER_IMPORTS = """
import os, sys
import resque_worker.__main__, resque_worker.zygote, resque_proto.version
from resque_worker.config import load
load([], {"QUEUES": "q"})
heavy = ("redis", "importlib.metadata", "logging.config", "ctypes.util", "subprocess",
         "shutil", "random")
print(sorted(name for name in heavy if name in sys.modules))
"""


def test_the_worker_entry_point_loads_nothing_that_slows_its_forks() -> None:
    """The process that forks the zygote: redis-py and importlib.metadata each make every
    later fork slower (docs/benchmarks.md); the version comes from resque_proto._version.
    logging.config (with logging.handlers, pickle, queue) and ctypes.util (with
    subprocess, tempfile, random) too: one configures gunicorn only, the other found libc.
    shutil (with zlib, bz2, lzma: argparse's terminal width) and random (a retry delay's
    jitter; it also re-seeds itself in every child) add mappings every fork copies."""
    result = subprocess.run(
        [sys.executable, "-c", FORK_SERVER_IMPORTS], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
