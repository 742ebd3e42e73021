"""What every command shares: the one-line usage errors, number arguments, logging,
the asyncio entry with SIGTERM, and the service process's GC tuning."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

log = logging.getLogger("monitor")

EXIT_USAGE = 2


def speed_arg(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'max' or a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected 'max' or a number > 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, as for every user error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fatigue-monitor: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def tune_gc() -> None:
    """Fewer, shorter garbage collections for the long-running service process.

    Why: the full (generation 2) collection walks every tracked object: the imported
    libraries plus thousands of detector channels. Measured with 300 sensors, eight of
    them in 20 s took 0.48 s of CPU, up to 80 ms each, in the middle of ticks, which is
    the latency tail. Freezing what exists at start (imports, settings) takes it out of
    every later walk, and a larger first threshold makes the walks rarer: 0.1 s in all,
    30 ms at most. Done here, by the process's owner, not by the library."""
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run_async(coro: Any) -> None:
    """asyncio.run with SIGTERM treated like Ctrl-C, so services shut down cleanly."""
    import asyncio
    import contextlib
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await coro

    with contextlib.suppress(asyncio.CancelledError):  # SIGTERM: a clean stop, not an error
        asyncio.run(main())
