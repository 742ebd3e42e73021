"""What a CSV file looks like, worked out from its first lines: the "dialect" of an export.

Exports from phones, wrist loggers, amplifier software and spreadsheets differ in every
detail that a strict reader refuses: a preamble of ``#`` comments, ``;`` or tab separators,
a decimal comma, no header row at all, a time column called ``Time (s)``, ``timestamp_ms``
or ``ts`` (or several of them), text columns (an activity label), units in the header as
``acc_x [g]`` or ``x-axis (g)``, a trailing separator on every line. This module reads the
first lines and the caller's ``CsvOptions`` and returns a ``Dialect``: which columns are
signals (and their names and units), which one is time and in what unit or date format.
Numbers are never converted here; that is the reader's job, batch by batch.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from monitor.core.errors import RecordingError

#: Lines looked at to decide the dialect.
SNIFF_LINES = 200
DELIMITERS = (",", ";", "\t")
NUMBER_RE = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$", re.IGNORECASE)
_COMMANUMBER_RE = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d+)?$")
#: ``name [unit]`` or ``name (unit)``.
_UNIT_RE = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]$")
#: Column names that are time, and the unit a name implies (None: from the values).
_TIME_NAME_RE = re.compile(
    r"^(time|t|ts|timestamp|time_?stamp|datetime|date_?time|elapsed|elapsed_?time|epoch|"
    r"seconds?|sec|seconds_elapsed|time_since_start|clock|sample_?time|"
    r"(time|t|ts|timestamp|elapsed|epoch)[_ ]?"
    r"(s|sec|ms|us|ns|msec|usec|nsec|millis|micros|nanos))$",
    re.IGNORECASE,
)
_PLAIN_TIME_RE = re.compile(
    r"^(time|t|ts|timestamp|time_?stamp|datetime|date_?time|elapsed|epoch|clock)$"
)
_UNIT_WORDS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "ms": "ms",
    "msec": "ms",
    "millis": "ms",
    "milliseconds": "ms",
    "us": "us",
    "µs": "us",
    "usec": "us",
    "micros": "us",
    "microseconds": "us",
    "ns": "ns",
    "nsec": "ns",
    "nanos": "ns",
    "nanoseconds": "ns",
}
TIME_UNITS = ("s", "ms", "us", "ns")


@dataclass(frozen=True, slots=True)
class CsvOptions:
    """A user's hints for a CSV export (all optional; CLI: ``--time-column`` etc.).

    ``time_column`` is a column name or a 1-based column number (``0`` or ``none``: the
    file has no time column); ``columns`` names the columns of a headerless file (``-``
    skips one); ``channels`` selects signal columns by name; ``unit`` is the unit of every
    signal column (``g`` is converted to m/s^2 for accelerometers)."""

    time_column: str | None = None
    time_unit: str | None = None
    time_format: str | None = None
    columns: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    unit: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True, slots=True)
class Dialect:
    delimiter: str
    decimal_comma: bool
    #: Lines before the first data row (preamble comments, blank lines and the header).
    skip_lines: int
    #: Every column's name (generated for a headerless file without ``--columns``).
    names: tuple[str, ...]
    #: Signal columns: index, name, unit (None: the modality's default).
    signals: tuple[tuple[int, str, str | None], ...]
    time_col: int | None
    #: Unit of a numeric time column (None: decided from the values) or None for dates.
    time_unit: str | None
    #: True when the time column holds date-time text, parsed with ``time_format``.
    time_is_text: bool
    time_format: str | None
    notes: tuple[str, ...]
    n_cols: int
    #: A character that ends every data row after the last value (removed on reading).
    trailing: str = ""


def _cells(line: str, delimiter: str) -> list[str]:
    """A line's cells; a quoted cell may hold the delimiter (``"a, b"``)."""
    text = line.rstrip("\r\n")
    if '"' in text:
        row = next(csv.reader([text], delimiter=delimiter), [])
        return [c.strip() for c in row] or [""]
    return [c.strip() for c in text.split(delimiter)]


def _width(line: str, delimiter: str) -> int:
    """Cells of a line without empty trailing ones (a separator some exports put at the
    end of data rows but not of the header, or the reverse)."""
    cells = _cells(line, delimiter)
    while len(cells) > 1 and cells[-1] == "":
        cells.pop()
    return len(cells)


def _is_number(cell: str, decimal_comma: bool) -> bool:
    return bool(NUMBER_RE.match(cell) or (decimal_comma and _COMMANUMBER_RE.match(cell)))


def _split_unit(cell: str) -> tuple[str, str | None]:
    match = _UNIT_RE.match(cell)
    if match and match["name"].strip():
        return match["name"].strip(), match["unit"].strip() or None
    return cell, None


def time_unit_of_name(name: str, unit: str | None) -> str | None:
    """The time unit a column's name or header unit states, if any."""
    if unit is not None:
        return _UNIT_WORDS.get(unit.strip().lower())
    low = name.strip().lower()
    if _PLAIN_TIME_RE.match(low):
        return None  # "ts" is a timestamp, not "t" in seconds
    for word, u in sorted(_UNIT_WORDS.items(), key=lambda kv: -len(kv[0])):
        if low.endswith(("_" + word, " " + word)) or (
            low.endswith(word)
            and low[: -len(word)] in ("t", "ts", "time", "timestamp", "elapsed", "epoch")
        ):
            return u
    return None


def is_time_name(name: str) -> bool:
    return bool(_TIME_NAME_RE.match(name.strip()))


def _delimiter(lines: list[str], given: str | None) -> str:
    if given is not None:
        return "\t" if given in ("tab", "\\t") else given
    # A tab or a ';' that splits (nearly) every line alike is the separator: those are never
    # part of a number, while a ',' may be a decimal comma.
    for d in ("\t", ";"):
        # (a ';' closing every line, as in WISDM's ','-separated rows, separates nothing)
        counts = [len(_cells(line.rstrip().removesuffix(d), d)) for line in lines]
        if counts and min(counts) >= 2:
            common = max(set(counts), key=counts.count)
            if counts.count(common) >= 0.9 * len(counts):
                return d
    best, best_score = ",", -1
    for d in DELIMITERS:
        counts = [len(_cells(line, d)) for line in lines]
        if not counts or max(counts) < 2:
            continue
        # Consistent column counts over the lines, the more columns the better.
        common = max(set(counts), key=counts.count)
        score = counts.count(common) * 1000 + common
        if score > best_score:
            best, best_score = d, score
    return best


def sniff(path: Path, head: list[str], options: CsvOptions, fs_given: bool = False) -> Dialect:
    """The dialect of a CSV whose first lines are ``head`` (see the module docstring)."""
    notes: list[str] = []
    skip = 0
    indexed = [
        (i, line)
        for i, line in enumerate(head)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not indexed:
        raise RecordingError(path, "no rows: only comments or blank lines")
    # The table is what the last sniffed lines look like; lines before its first line of
    # that many columns are a preamble (logger metadata: serial number, start time, ...).
    tail = [line for _, line in indexed[-50:]]
    delimiter = _delimiter(tail, options.delimiter)
    counts = [_width(line, delimiter) for line in tail]
    width = max(set(counts), key=counts.count)
    start = 0
    if len(indexed) >= 10:  # too few lines to tell a preamble from ragged rows
        start = next(
            (k for k, (_, line) in enumerate(indexed) if _width(line, delimiter) == width),
            0,
        )
    if start:
        notes.append(f"{start} line(s) of preamble before the table skipped")
    skip = indexed[start][0]
    body = [line for _, line in indexed[start:]]
    trailing = ""
    ends = {line.rstrip("\r\n").rstrip()[-1:] for line in body[1:] or body}
    if len(ends) == 1 and (end := ends.pop()) in ";," and end != delimiter:
        trailing = end  # a ';' closing every row of a ','-separated export (WISDM)
        body = [line.rstrip("\r\n").rstrip().removesuffix(end) + "\n" for line in body]
    rows = [_cells(line, delimiter) for line in body[:SNIFF_LINES]]
    if len(rows) > 1 and all(len(r) > 1 and r[-1] == "" for r in rows):
        # A separator at the end of every line (some exports): no column after it.
        rows = [r[:-1] for r in rows]
    decimal_comma = delimiter != "," and any(_COMMANUMBER_RE.match(c) for r in rows[1:] for c in r)
    if (
        len(rows) == 1
        and options.columns is None
        and not all(_is_number(c, False) for c in rows[0] if c)
    ):
        raise RecordingError(path, "no samples: the file has a header row but no data rows")
    n_cols = max(len(r) for r in rows)
    if n_cols < 1:
        raise RecordingError(path, "no columns")
    # A row of units under the header (lab software: "s, mV, mV"): no cell a number while
    # the rows below are numbers. Its cells become the columns' units.
    unit_row: list[str] | None = None
    if (
        len(rows) > 3
        and not any(_is_number(c, decimal_comma) for c in rows[1] if c)
        and any(_is_number(c, decimal_comma) for c in rows[2])
        and not any(_is_number(c, decimal_comma) for c in rows[0] if c)
    ):
        unit_row = [c.strip("[]()") for c in rows[1]]
        rows = [rows[0], *rows[2:]]
    data_rows = rows[1:] if len(rows) > 1 else rows
    # A column is text (a label, an activity code) when most of its cells are not numbers;
    # a numeric column with a few bad cells stays a signal, so the reader names the cell.
    numeric = []
    for i in range(n_cols):
        cells = [r[i] for r in data_rows if i < len(r) and r[i]]
        numeric.append(2 * sum(_is_number(c, decimal_comma) for c in cells) >= len(cells))
    first = rows[0]
    if options.columns is not None:
        header = not all(
            _is_number(c, decimal_comma) for i, c in enumerate(first) if numeric[i] if i < n_cols
        )
        if header:
            skip += 1  # the header row is replaced by the given names
        if len(options.columns) != n_cols:
            raise RecordingError(
                path,
                f"--columns names {len(options.columns)} columns but the rows have {n_cols}",
            )
        raw_names = list(options.columns)
    else:
        # A header row has text where the column below it holds numbers.
        header = any(
            numeric[i] and not _is_number(c, decimal_comma) for i, c in enumerate(first) if c
        ) or (len(rows) == 1 and not all(_is_number(c, decimal_comma) for c in first))
        if header:
            skip += 1 if unit_row is None else 2
            raw_names = first + [f"col{i + 1}" for i in range(len(first), n_cols)]
            if unit_row is not None:
                raw_names = [
                    f"{n} [{u}]" if u and _UNIT_RE.match(n) is None else n
                    for n, u in zip(raw_names, unit_row + [""] * n_cols, strict=False)
                ]
                notes.append("line 2 holds the columns' units: read as units")
        else:
            raw_names = [f"col{i + 1}" for i in range(n_cols)]
            notes.append(
                f"no header row: columns named col1..col{n_cols} (name them with --columns)"
            )
    names: list[str] = []
    units: list[str | None] = []
    for i, cell in enumerate(raw_names):
        name, unit = _split_unit(cell)
        if not name:
            name = f"col{i + 1}"
        if name in names and name != "-":
            name = f"{name}_{i + 1}"
        names.append(name)
        units.append(unit)

    time_col, time_unit, time_text, time_format = _time_column(
        path,
        names,
        units,
        numeric,
        rows[1:] if header else rows,
        options,
        notes,
        decimal_comma,
        headerless=not header and options.columns is None,
        fs_given=fs_given,
    )
    signals: list[tuple[int, str, str | None]] = []
    for i, name in enumerate(names):
        if i == time_col or name == "-":
            continue
        if is_time_name(name) and (
            not numeric[i] or len(data_rows) < 3 or _increasing(data_rows, i, decimal_comma)
        ):
            notes.append(f"column {name!r} is another time column: not a signal")
            continue
        if not numeric[i]:
            notes.append(f"column {name!r} holds text: not a signal")
            continue
        signals.append((i, name, options.unit or units[i]))
    if options.channels is not None:
        wanted = set(options.channels)
        missing = wanted - {n for _, n, _ in signals}
        if missing:
            raise RecordingError(
                path,
                f"--channels {', '.join(sorted(missing))} not among the signal columns "
                f"({', '.join(n for _, n, _ in signals)})",
            )
        signals = [s for s in signals if s[1] in wanted]
    if not signals:
        raise RecordingError(path, "no signal columns: only time or text columns")
    return Dialect(
        delimiter=delimiter,
        decimal_comma=decimal_comma,
        skip_lines=skip,
        names=tuple(names),
        signals=tuple(signals),
        time_col=time_col,
        time_unit=time_unit,
        time_is_text=time_text,
        time_format=time_format,
        notes=tuple(notes),
        n_cols=n_cols,
        trailing=trailing,
    )


def _time_column(
    path: Path,
    names: list[str],
    units: list[str | None],
    numeric: list[bool],
    data_rows: list[list[str]],
    options: CsvOptions,
    notes: list[str],
    decimal_comma: bool,
    headerless: bool,
    fs_given: bool = False,
) -> tuple[int | None, str | None, bool, str | None]:
    """(column, unit of a numeric one, whether it is date-time text, its format)."""
    given = options.time_column
    col: int | None
    if given is not None:
        text = given.strip()
        if text.lower() in ("0", "none", "-"):
            return None, None, False, None
        if text.isdigit():
            col = int(text) - 1
            if not 0 <= col < len(names):
                raise RecordingError(
                    path, f"--time-column {text}: the file has columns 1..{len(names)}"
                )
        elif text in names:
            col = names.index(text)
        else:
            raise RecordingError(
                path, f"--time-column {text!r} is not a column: {', '.join(names)}"
            )
    else:
        # A column named "time" is the clock (the format's contract: errors in it are
        # reported as such); another time-like name ("t", "ts", "sec") only when it grows
        # over the sniffed rows: a signal called "t" is no clock.
        candidates = [
            i
            for i, n in enumerate(names)
            if is_time_name(n)
            and (
                n.strip().lower() == "time"
                or not numeric[i]
                or len(data_rows) < 3
                or _increasing(data_rows, i, decimal_comma)
            )
        ]
        # A numeric time column beats a date-time one (no parsing, no time zone).
        candidates.sort(key=lambda i: (not numeric[i], i))
        col = candidates[0] if candidates else None
        if (
            col is None
            and data_rows
            and not numeric[0]
            and _date_format(data_rows[0][0]) is not None
        ):
            col = 0
        if (
            col is None
            and headerless
            and not fs_given
            and _increasing(data_rows, 0, decimal_comma)
            and not _counter(data_rows, decimal_comma)
        ):
            col = 0
            notes.append("no header row: column 1 increases on every row, read as time")
        if col is None:
            return None, None, False, None
    sample = next((r[col] for r in data_rows if col < len(r) and r[col]), "")
    if numeric[col] or _is_number(sample, decimal_comma):
        unit = options.time_unit or time_unit_of_name(names[col], units[col])
        if unit is not None and unit not in TIME_UNITS:
            raise RecordingError(path, f"time unit must be one of s, ms, us, ns; got {unit!r}")
        return col, unit, False, None
    fmt = options.time_format or _date_format(sample)
    if fmt is not None and decimal_comma:
        fmt = fmt.replace(",%f", ".%f")  # the reader turns decimal commas into points
    if fmt is None:
        raise RecordingError(
            path,
            f"time column {names[col]!r}: cannot read {sample!r} as a number or a date-time; "
            "give its format with --time-format (e.g. '%Y-%m-%d %H:%M:%S:%f') or another "
            "column with --time-column",
        )
    return col, None, True, fmt


_DATE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?([.,:]\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _looks_like_date(cell: str) -> bool:
    return bool(_DATE_RE.match(cell.strip()))


_SLASH_DATE_RE = re.compile(
    r"^(?P<a>\d{1,2})/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?P<frac>[.,:]\d+)?$"
)
_CLOCK_RE = re.compile(r"^\d{1,2}:\d{2}:\d{2}(?P<frac>[.,:]\d+)?$")


def _date_format(sample: str) -> str | None:
    """A strftime format for common date-time text, or "ISO8601"."""
    s = sample.strip()
    slash = _SLASH_DATE_RE.match(s)
    if slash:  # 3/21/2019 14:58:00.500 (ActiGraph, Excel); times are relative, so only a
        # recording across midnight would care whether it is month or day first
        first = "%d/%m/%Y" if int(slash["a"]) > 12 else "%m/%d/%Y"
        frac = slash["frac"]
        return f"{first} %H:%M:%S" + (f"{frac[0]}%f" if frac else "")
    clock = _CLOCK_RE.match(s)
    if clock:  # a time of day without a date (loggers): times from its first sample
        frac = clock["frac"]
        return "%H:%M:%S" + (f"{frac[0]}%f" if frac else "")
    if re.match(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}:\d{2}:\d+$", s):
        sep = "T" if "T" in s else " "
        return f"%Y-%m-%d{sep}%H:%M:%S:%f"  # milliseconds after a colon (phone exports)
    if _looks_like_date(s):
        return "ISO8601"
    return None


def _values(rows: list[list[str]], col: int, decimal_comma: bool) -> list[float] | None:
    values = []
    for r in rows:
        if col >= len(r) or not _is_number(r[col], decimal_comma):
            return None
        values.append(float(r[col].replace(",", ".")))
    return values


def _increasing(rows: list[list[str]], col: int, decimal_comma: bool) -> bool:
    """Whether column ``col`` never decreases over the sniffed rows (at least two) and
    grows: a clock, not a signal."""
    v = _values(rows, col, decimal_comma)
    return (
        v is not None
        and len(v) >= 2
        and all(b >= a for a, b in itertools.pairwise(v))
        and v[-1] > v[0]
    )


def _counter(rows: list[list[str]], decimal_comma: bool) -> bool:
    """Whether the first column counts samples (0, 1, 2, ...): no time in it."""
    v = _values(rows, 0, decimal_comma)
    return v is not None and all(b - a == 1.0 for a, b in itertools.pairwise(v))
