"""Process titles in Resque's format: ``<prefix>resque-<version>: <what>``.

Ruby workers on the same host recognise workers by ``resque-<digit>``; the
frontend and ``ps`` show what each process is doing.
"""

from __future__ import annotations

import setproctitle

from resque_worker import __version__


class ProcTitle:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def set(self, what: str) -> str:
        title = f"{self.prefix}resque-{__version__}: {what}"
        setproctitle.setproctitle(title)
        return title

    def waiting(self, queues: list[str]) -> None:
        self.set(f"Waiting for {','.join(queues)}")

    def processing(self, queue: str, class_name: str, since: int) -> str:
        return self.set(f"Processing {queue} since {since} [{class_name}]")

    def forked(self, pid: int, at: int) -> None:
        self.set(f"Forked {pid} at {at}")

    def paused(self) -> None:
        self.set("Paused")
