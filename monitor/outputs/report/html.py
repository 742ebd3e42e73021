"""Render the collected series as one HTML file with inline SVG.

Why SVG written by hand: the report must open anywhere with no network and no script
(clinical and lab machines often block both), and a few polylines need no chart library.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from monitor.core.indices import FatigueIndices, Trend
from monitor.core.model import Event
from monitor.outputs.report.collector import ChannelSeries, ReportCollector

WIDTH, HEIGHT = 860, 200
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 10, 26
MAX_POINTS = 1200
REFERENCE_S = 5.0
MAX_CONTRACTION_ROWS = 40

EVENT_COLOURS = {
    "fatigue_onset": "#c0392b",
    "fatigue_recovered": "#27ae60",
    "tremor_onset": "#8e44ad",
    "tremor_recovered": "#27ae60",
    "signal_lost": "#7f8c8d",
    "signal_restored": "#7f8c8d",
}

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:900px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-top:1px solid #ddd;padding-top:14px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 10px;text-align:left}
th{font-weight:600;color:#555}.muted{color:#777}.axis{font-size:11px;fill:#555}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:18px;height:3px;
vertical-align:middle;margin-right:4px}
"""


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    values: npt.NDArray[np.float64]
    colour: str


@dataclass(frozen=True, slots=True)
class Shade:
    label: str
    lo: float
    hi: float
    colour: str


def _decimate(
    t: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Bucket means, so an hour of half-second windows still draws quickly."""
    if t.size <= MAX_POINTS:
        return t, y
    edges = np.linspace(0, t.size, MAX_POINTS + 1).astype(int)
    tt = np.add.reduceat(t, edges[:-1]) / np.diff(edges)
    finite = np.isfinite(y)
    sums = np.add.reduceat(np.where(finite, y, 0.0), edges[:-1])
    counts = np.add.reduceat(finite.astype(float), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return tt, np.where(counts > 0, sums / counts, np.nan)


def _nice_range(
    values: Sequence[npt.NDArray[np.float64]], shades: Sequence[Shade]
) -> tuple[float, float]:
    finite = [v[np.isfinite(v)] for v in values]
    pool = np.concatenate(finite) if finite else np.empty(0)
    extra = [s.lo for s in shades] + [s.hi for s in shades]
    if pool.size == 0 and not extra:
        return 0.0, 1.0
    lo = float(np.min(np.concatenate([pool, extra]))) if pool.size or extra else 0.0
    hi = float(np.max(np.concatenate([pool, extra]))) if pool.size or extra else 1.0
    if lo >= 0 and lo < 0.3 * hi:
        lo = 0.0
    if hi - lo <= 0:
        hi = lo + (abs(lo) or 1.0)
    margin = 0.05 * (hi - lo)
    return lo - (margin if lo != 0 else 0.0), hi + margin


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 100:
        return f"{v:.0f}"
    if mag >= 1:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _text(x: float, y: float, anchor: str, body: str, extra: str = "") -> str:
    return (
        f'<text class="axis" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{body}</text>'
    )


def svg_chart(
    t: npt.NDArray[np.float64],
    lines: Sequence[Line],
    unit: str,
    events: Sequence[Event] = (),
    shades: Sequence[Shade] = (),
) -> str:
    """One time chart: lines over t, shaded horizontal bands, vertical event markers."""
    t_lo = float(t[0]) if t.size else 0.0
    t_hi = float(t[-1]) if t.size else 1.0
    if t_hi <= t_lo:
        t_hi = t_lo + 1.0
    decimated = [(ln, *_decimate(t, ln.values)) for ln in lines]
    y_lo, y_hi = _nice_range([d[2] for d in decimated], shades)
    pw, ph = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def sx(v: float) -> float:
        return PAD_L + (v - t_lo) / (t_hi - t_lo) * pw

    def sy(v: float) -> float:
        return PAD_T + (1.0 - (v - y_lo) / (y_hi - y_lo)) * ph

    out = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    out.append(
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>'
    )
    for shade in shades:
        y1, y2 = sy(shade.hi), sy(shade.lo)
        out.append(
            f'<rect x="{PAD_L}" y="{y1:.1f}" width="{pw}" height="{max(y2 - y1, 1):.1f}" '
            f'fill="{shade.colour}" opacity="0.18"><title>{html.escape(shade.label)}</title></rect>'
        )
    for i in range(5):
        v = y_lo + (y_hi - y_lo) * i / 4
        out.append(_text(PAD_L - 6, sy(v) + 4, "end", _fmt(v)))
        tv = t_lo + (t_hi - t_lo) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(_text(sx(tv), HEIGHT - 8, anchor, f"{_fmt(tv)} s"))
    mid = PAD_T + ph / 2
    out.append(_text(12, mid, "middle", html.escape(unit), f'transform="rotate(-90 12 {mid:.0f})"'))
    for ln, tt, yy in decimated:
        segments: list[list[str]] = [[]]
        for tv, yv in zip(tt.tolist(), yy.tolist(), strict=True):
            if math.isfinite(yv):
                segments[-1].append(f"{sx(tv):.1f},{sy(yv):.1f}")
            elif segments[-1]:
                segments.append([])
        for seg in segments:
            if seg:
                points = " ".join(seg)
                out.append(
                    f'<polyline fill="none" stroke="{ln.colour}" stroke-width="1.4" '
                    f'points="{points}"/>'
                )
    for ev in events:
        x = sx(ev.t)
        colour = EVENT_COLOURS.get(ev.event, "#333")
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + ph}" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="5,3"><title>{html.escape(ev.event)} at '
            f"{ev.t:.1f} s: {html.escape(ev.message)}</title></line>"
        )
        out.append(_text(x + 3, PAD_T + 12, "start", html.escape(ev.event), f'fill="{colour}"'))
    out.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{ln.colour}"></i>{html.escape(ln.label)}</span>'
        for ln in lines
    ) + "".join(
        f'<span><i class="sw" style="background:{s.colour};opacity:.4;height:8px"></i>'
        f"{html.escape(s.label)}</span>"
        for s in shades
    )
    return f'<div class="legend">{legend}</div>' + "".join(out)


def rolling_median(y: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """Centred running median over ``n`` points (NaN-aware): the trend through the noise
    of single-window estimates."""
    if y.size < n or n < 2:
        return y
    pad = n // 2
    padded = np.concatenate([np.full(pad, np.nan), y, np.full(n - 1 - pad, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN edges stay NaN
        return np.asarray(np.nanmedian(windows, axis=1), dtype=np.float64)


def _window_mean(
    t: npt.NDArray[np.float64], y: npt.NDArray[np.float64], lo: float, hi: float
) -> float:
    sel = (t >= lo) & (t <= hi) & np.isfinite(y)
    return float(np.mean(y[sel])) if sel.any() else math.nan


def _baseline_shade(
    series: ChannelSeries, name: str, label: str, y: npt.NDArray[np.float64] | None = None
) -> Shade | None:
    """The detector's baseline when an event carries one, else the first seconds' spread
    (of ``y`` when given: EMG passes MDF with rest windows blanked)."""
    for ev in series.events:
        base = ev.baseline.get(name)
        spread = ev.baseline.get(f"{name}_sd")
        if base is not None and math.isfinite(base):
            width = spread if spread is not None and math.isfinite(spread) else 0.05 * base
            return Shade(f"{label} baseline (detector)", base - width, base + width, "#2980b9")
    t = series.times()
    y = series.array(name) if y is None else y
    finite = np.isfinite(y)
    if not finite.any():
        return None
    sel = (t <= t[finite][0] + REFERENCE_S) & finite
    if sel.sum() < 2:
        return None
    med = float(np.median(y[sel]))
    mad = 1.4826 * float(np.median(np.abs(y[sel] - med)))
    return Shade(
        f"{label} in the first {REFERENCE_S:g} s (median ± MAD)", med - mad, med + mad, "#2980b9"
    )


def first_last_means(series: ChannelSeries, name: str) -> tuple[float, float]:
    """Mean of a feature over the first and over the last REFERENCE_S seconds."""
    t, y = series.times(), series.array(name)
    if t.size == 0:
        return math.nan, math.nan
    return (
        _window_mean(t, y, t[0], t[0] + REFERENCE_S),
        _window_mean(t, y, t[-1] - REFERENCE_S, t[-1]),
    )


def _pct(value: float) -> str:
    return f"{value:+.1f} %/min"


def _trend_text(tr: Trend | None) -> str:
    if tr is None:
        return "too few active windows"
    return f"{_pct(tr.pct_per_min)} (95 % CI {tr.lo:+.1f} to {tr.hi:+.1f}; {tr.n_points} windows)"


def _opt(value: float | None, fmt: str, none: str = "—") -> str:
    return none if value is None else fmt.format(value)


def indices_rows(ind: FatigueIndices) -> list[tuple[str, str]]:
    """The fatigue indices as (label, value) rows; labels say what each is computed on."""
    change = ind.mdf_change_pct
    return [
        ("active windows (quality ok)", f"{ind.n_usable} of {ind.n_windows}"),
        ("initial MDF (first 10 s active)", _opt(ind.initial_mdf_hz, "{:.1f} Hz")),
        (
            f"median MDF first → last {REFERENCE_S:g} s active",
            "—"
            if ind.mdf_first_hz is None or ind.mdf_last_hz is None
            else f"{ind.mdf_first_hz:.1f} → {ind.mdf_last_hz:.1f} Hz"
            + _opt(change, " ({:+.1f} %)", ""),
        ),
        ("MDF slope, % of initial", _trend_text(ind.mdf_slope)),
        ("RMS slope, % of initial", _trend_text(ind.rms_slope)),
        ("time to a 10 % MDF drop", _opt(ind.drop10_s, "{:.1f} s", "none")),
        (
            "JASA quadrant",
            (ind.quadrant or "—")
            + ("" if ind.quadrant_caveat is None else f" ({ind.quadrant_caveat})"),
        ),
        ("contractions", str(len(ind.contractions))),
    ]


def _contraction_table(ind: FatigueIndices) -> str:
    if not ind.contractions:
        return ""
    rows = [
        f"<tr><td>{i}</td><td>{c.start_s:.1f}</td><td>{c.end_s:.1f}</td><td>{c.n_windows}</td>"
        f"<td>{c.mdf_hz:.1f}</td><td>{c.mnf_hz:.1f}</td><td>{_fmt(c.rms)}</td></tr>"
        for i, c in enumerate(ind.contractions[:MAX_CONTRACTION_ROWS], start=1)
    ]
    more = len(ind.contractions) - MAX_CONTRACTION_ROWS
    note = f'<p class="muted">… and {more} more (all in --summary-json)</p>' if more > 0 else ""
    head = (
        "<tr><th>#</th><th>start, s</th><th>end, s</th><th>windows</th>"
        "<th>median MDF, Hz</th><th>median MNF, Hz</th><th>median RMS</th></tr>"
    )
    return (
        "<details><summary>Contractions (window ends; medians over each)</summary>"
        f"<table>{head}{''.join(rows)}</table>{note}</details>"
    )


def _contraction_medians(series: ChannelSeries, ind: FatigueIndices) -> npt.NDArray[np.float64]:
    """Each usable window carries its contraction's median MDF (NaN elsewhere): one flat
    segment per contraction on the chart."""
    usable = series.usable_mask()
    out = np.full(usable.size, np.nan)
    lengths = [c.n_windows for c in ind.contractions]
    out[usable] = np.repeat([c.mdf_hz for c in ind.contractions], lengths)
    return out


def _section(series: ChannelSeries, stride: int = 1) -> str:
    t = series.times()
    title = f"{html.escape(series.sensor)} · {html.escape(series.channel)} ({series.modality})"
    parts = [f"<h2>{title}</h2>"]
    span = f"{t[0]:.1f}-{t[-1]:.1f} s" if t.size else "no complete window"
    rows = [
        ("windows", f"{t.size} ({span})"),
        ("windows with poor quality", str(series.quality_bad)),
    ]
    ind = series.indices(stride) if series.modality == "emg" else None
    if ind is not None:
        rows += [(html.escape(k), html.escape(v)) for k, v in indices_rows(ind)]
    else:
        a0, a1 = first_last_means(series, "tremor_rms")
        rows.append((f"tremor RMS first → last {REFERENCE_S:g} s", f"{_fmt(a0)} → {_fmt(a1)} m/s²"))
    rows.append(("events", ", ".join(f"{e.event} at {e.t:.1f} s" for e in series.events) or "none"))
    parts.append(
        "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    )
    if ind is not None:
        parts.append(_contraction_table(ind))
        usable = series.usable_mask()
        mdf = np.where(usable, series.array("mdf_hz"), np.nan)
        left_out = int(usable.size - usable.sum())
        shade = _baseline_shade(series, "mdf_hz", "MDF", mdf)
        parts.append(
            f'<p class="muted">MDF and MNF of active windows only: {left_out} rest or '
            "poor-quality window(s) left out (their MDF is the noise floor's).</p>"
        )
        parts.append(
            svg_chart(
                t,
                [
                    Line("MDF", mdf, "#e8a39b"),
                    Line("MNF", np.where(usable, series.array("mnf_hz"), np.nan), "#f0c089"),
                    Line("MDF, 10 s median", rolling_median(mdf, 21), "#922b21"),
                    Line("MDF, contraction median", _contraction_medians(series, ind), "#1a5276"),
                ],
                "Hz",
                series.events,
                [shade] if shade else [],
            )
        )
        parts.append(
            svg_chart(t, [Line("RMS", series.array("rms"), "#2c3e50")], "RMS", series.events)
        )
    else:
        shade = _baseline_shade(series, "tremor_rms", "tremor RMS")
        parts.append(
            svg_chart(
                t,
                [Line("tremor RMS (4-12 Hz)", series.array("tremor_rms"), "#8e44ad")],
                "m/s²",
                series.events,
                [shade] if shade else [],
            )
        )
        parts.append(
            svg_chart(
                t,
                [Line("peak frequency", series.array("tremor_peak_hz"), "#16a085")],
                "Hz",
                series.events,
                [
                    Shade("pathological 4-7 Hz", 4.0, 7.0, "#e74c3c"),
                    Shade("physiological 8-12 Hz", 8.0, 12.0, "#27ae60"),
                ],
            )
        )
    return "\n".join(parts)


def render_report(collector: ReportCollector, title: str, sources: Sequence[str]) -> str:
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">fatigue-monitor replay · {created} · '
        + ", ".join(html.escape(s) for s in sources)
        + "</p>",
    ]
    if not collector.series:
        body.append("<p>No complete analysis window: the recording is shorter than one window.</p>")
    for key in sorted(collector.series):
        body.append(_section(collector.series[key], collector.stride))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
