"""``fatigue-monitor`` commands as a user runs them, their output read as it comes, so a
test waits for a line (``ready``: subscribed, status retained) instead of sleeping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent
READY = "fatigue-monitor: ready:"


class Lines:
    """The lines of a pipe, collected by a thread; ``wait_for`` blocks until one holds a
    text, the pipe ends, or the deadline passes."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._done:
                    raise AssertionError(f"no {text!r} in:\n{''.join(self.lines)[-3000:]}")
                self._changed.wait(min(left, 0.5))

    def join(self) -> None:
        self._thread.join(timeout=10)


class MonitorProcess:
    """``fatigue-monitor COMMAND ARGS`` with stdout and stderr collected."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, command: str = "run") -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "fatigue-monitor"), command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)

    @property
    def stderr(self) -> str:
        return self.err.text

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first stderr line holding ``text``."""
        return self.err.wait_for(text, timeout)

    def wait_ready(self, timeout: float = 60.0) -> str:
        return self.wait_for(READY, timeout)

    def exit_code(self, timeout: float = 60.0) -> int:
        """The exit code of a command expected to end by itself."""
        self.proc.wait(timeout=timeout)
        return self.stop()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.out.join()
        self.err.join()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return rc
