"""Command line: ``fatigue-monitor run | demo | alerts | replay | evaluate | bench | scan``,
one module per command (each adds its parser and runs it).

Errors the user can fix (a bad file, a bad option) print one line and exit with code 2;
nothing the user typed should ever produce a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from monitor.cli import alerts, bench, demo, evaluate, replay, run, scan
from monitor.cli._common import EXIT_USAGE, Parser, configure_logging
from monitor.core.errors import MonitorError

#: In the order of ``--help``.
COMMANDS = (run, demo, alerts, replay, evaluate, bench, scan)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fatigue-monitor",
        description="Muscle-fatigue and tremor monitoring from surface EMG and accelerometers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
        return code
    except MonitorError as exc:
        print(f"fatigue-monitor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fatigue-monitor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
