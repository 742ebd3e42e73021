"""``fatigue-monitor bench``: feature-engine throughput."""

from __future__ import annotations

import argparse
import json
from typing import Any

from monitor.cli._common import positive_float
from monitor.core.errors import MonitorError

BENCH_EPILOG = """\
The three figures come from one run on the same windows: the engine (one batched
feature step), a naive loop (scipy.signal.welch per window, then MDF), and a bare
batched rfft of the windows (the floor no spectral method can beat).
"""


def add_parser(sub: Any) -> None:
    bp = sub.add_parser(
        "bench",
        help="measure the feature engine against a naive loop and the bare FFT",
        description="Measure feature-engine throughput.",
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bp.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    bp.add_argument("--windows", type=int, default=4096, help="windows per run (default 4096)")
    bp.add_argument("--fs", type=positive_float, default=2000.0, help="sample rate (default 2000)")
    bp.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    bp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from monitor.tools.bench import format_bench, run_bench

    if args.windows < 16:
        raise MonitorError(f"--windows must be at least 16, got {args.windows}")
    result = run_bench(windows=args.windows, fs=args.fs, pin=not args.no_pin)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_bench(result))
    return 0
