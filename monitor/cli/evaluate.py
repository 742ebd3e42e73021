"""``fatigue-monitor evaluate``: the detector scored on a set with ground truth."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from monitor.core.config import load_settings
from monitor.core.model import json_safe

EVALUATE_EPILOG = """\
example:
  fatigue-sim scenarios --n 60 --seed 7 -o set7 && fatigue-monitor evaluate set7
      a fresh mixed set (fatiguing and not, EMG and ACC) and the detector's scores

truth.json is described in docs/truth-format.md; the scoring rules in docs/evaluation.md.
"""


def add_parser(sub: Any) -> None:
    ep = sub.add_parser(
        "evaluate",
        help="score the detector on recordings with ground truth",
        description="Replay every recording of a truth set through the real detector and "
        "report sensitivity, false alarms per hour and detection delay.",
        epilog=EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ep.add_argument("directory", type=Path, metavar="DIR", help="folder with truth.json")
    ep.add_argument("--json", action="store_true", help="print the summary as JSON")
    ep.add_argument(
        "--tolerance",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds before the true onset a detection may come (default 2: one window)",
    )
    ep.add_argument("--config", type=Path, metavar="FILE", help="TOML settings")
    ep.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from monitor.tools.evaluate import evaluate, format_result, format_summary

    settings = load_settings(args.config)
    show = not args.json

    def progress(result: Any) -> None:
        if show:
            print(format_result(result), flush=True)

    _, summary = evaluate(args.directory, settings, args.tolerance, progress)
    if args.json:
        # Strict JSON: a condition without positives has no sensitivity (None, not NaN).
        print(json.dumps(json_safe(asdict(summary)), indent=2, allow_nan=False))
    else:
        print(format_summary(summary))
    return 0
