"""The CSV hints on the command line (``--time-column`` ...), shared by every command that
reads recordings (``replay``, ``fatigue-sim mqtt --from``), so they spell them alike."""

from __future__ import annotations

import argparse

from monitor.inputs.files.csv_dialect import TIME_UNITS, CsvOptions

CSV_HELP = """\
CSV exports as people have them: '#' comment lines are skipped; the separator (, ; tab)
and a decimal comma are detected; the time column is found by name (time, t, ts,
timestamp, elapsed, 'Time (s)', timestamp_ms, ...) with its unit from the name, the
values' step (s, ms, us, ns; epoch times too) or --time-unit; date-time text is read as
ISO 8601 or with --time-format. Irregular timestamps (phones) are resampled to the median
rate by linear interpolation, pauses longer than 5 steps stay gaps. What was guessed is
said on stderr.
"""


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty name in {text!r}")
    return names


def add_csv_arguments(parser: argparse.ArgumentParser, channels_flag: str = "--channels") -> None:
    """The CSV hints as an argument group; ``channels_flag`` renames ``--channels`` where a
    command already has one (``fatigue-sim mqtt --channels N``)."""
    group = parser.add_argument_group("CSV exports", CSV_HELP)
    group.add_argument(
        "--time-column",
        metavar="NAME|N",
        help="the time column by name or 1-based number (0: none, the rate is --fs)",
    )
    group.add_argument("--time-unit", choices=TIME_UNITS, help="unit of a numeric time column")
    group.add_argument(
        "--time-format",
        metavar="STRFTIME",
        help="format of date-time text, e.g. '%%Y-%%m-%%d %%H:%%M:%%S:%%f'",
    )
    group.add_argument(
        "--columns",
        type=_names,
        metavar="A,B,...",
        help="names of the columns of a file without header row ('-' skips one)",
    )
    group.add_argument(
        channels_flag,
        dest="csv_channels",
        type=_names,
        metavar="A,B,...",
        help="only these signal columns",
    )
    group.add_argument(
        "--unit", metavar="UNIT", help="unit of every signal column (g is converted to m/s^2)"
    )
    group.add_argument(
        "--delimiter", choices=[",", ";", "tab"], help="column separator (default: detected)"
    )


def csv_options(args: argparse.Namespace) -> CsvOptions | None:
    """The hints given, or None when there are none."""
    opts = CsvOptions(
        time_column=args.time_column,
        time_unit=args.time_unit,
        time_format=args.time_format,
        columns=args.columns,
        channels=args.csv_channels,
        unit=args.unit,
        delimiter=args.delimiter,
    )
    return None if opts == CsvOptions() else opts
