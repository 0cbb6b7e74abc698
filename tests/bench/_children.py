"""Targets for ``bench.e2e._in_child`` in tests: importable by a spawned process."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def exit_silently(code: int, queue: Any) -> None:
    """Die without reporting, as a child killed for memory would."""
    os._exit(code)


def report(value: int, queue: Any) -> None:
    queue.put({"value": value})


def sleep_long(pid_file: str, queue: Any) -> None:
    """Write this process's pid, then outlive any test unless killed."""
    Path(pid_file).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(120)
    queue.put({})


if __name__ == "__main__":  # a parent that runs sleep_long in a child (killed by the test)
    from bench.e2e import _in_child

    _in_child(sleep_long, sys.argv[1])
