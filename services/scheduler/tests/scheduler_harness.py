"""Real ``resque-scheduler`` processes for the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis_runner.polling import DEADLINE


class SchedulerProcess:
    def __init__(self, redis_url: str, log_path: Path, **settings: str) -> None:
        self.log_path = log_path
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "RESQUE_LOG_FORMAT": "json",
            "RESQUE_SCHEDULER_LOCK_TIMEOUT": "3",
            **settings,
        }
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "resque_scheduler"], env=env, stderr=log
            )
        self.pid = self.process.pid

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries

    def logged(self, message: str) -> bool:
        return any(entry.get("msg") == message for entry in self.logs())

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


StartScheduler = Callable[..., SchedulerProcess]
