"""The judgements the load tools make (recovery after a step, the hostile rows of the
soak), on made-up inputs whose answer is known; the tools themselves run for minutes and
are measurements, not tests (docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.core.errors import DecodeError
from monitor.inputs.wire import decode
from simulators.loadstep import BIN_S, StepResult, _summarise
from simulators.soak import INVALID_IDS_PER_S, NEW_IDS_PER_S, Hostile


def _write_steps(work: Path, seconds: float, interval: float = 0.05) -> list[float]:
    n = round(3 * seconds / interval)
    times = [1000.0 + i * interval for i in range(n)]
    (work / "base.json").write_text(json.dumps({"interval_s": interval, "times": times}))
    extra = [t for t in times if 1000.0 + seconds <= t < 1000.0 + 2 * seconds]
    (work / "extra.json").write_text(json.dumps({"interval_s": interval, "times": extra}))
    return times


def test_recovery_is_the_first_bin_after_which_every_bin_meets_the_target(tmp_path: Path) -> None:
    seconds = 40.0
    times = _write_steps(tmp_path, seconds)
    extra_end = 1000.0 + 2 * seconds - 0.05
    arrivals = []
    for i, published in enumerate(times[::10]):
        t = (i * 10 + 1) * 0.05  # the window completed by step index i*10
        since = published - extra_end
        # Late during the step and for 12 s after it, then on time again.
        late = 1.5 if published - 1000.0 - seconds >= 0.0 and since < 12.0 else 0.1
        arrivals.append((published + late, "emg01", t))
    watched = {"arrivals": arrivals, "stats": [], "rss": []}
    result = StepResult(sensors=1, extra=1, channels=8, seconds=seconds)
    _summarise(result, watched, tmp_path)
    assert result.recovered_after_s == pytest.approx(15.0)  # the bin 15-20 s after the drop
    assert result.p99_from_30s_after == pytest.approx(0.1)
    assert result.bins_after[0][1] == pytest.approx(1.5)
    assert all(p is not None and p < 0.5 for s, p in result.bins_after if s >= 15.0)
    assert result.p99_by_step_s[0] == pytest.approx(0.1)
    assert result.p99_by_step_s[1] == pytest.approx(1.5)
    assert BIN_S == 5.0


def test_never_recovered_when_the_last_bin_is_late(tmp_path: Path) -> None:
    seconds = 30.0
    times = _write_steps(tmp_path, seconds)
    arrivals = [(p + 0.9, "emg01", (i * 10 + 1) * 0.05) for i, p in enumerate(times[::10])]
    result = StepResult(sensors=1, extra=1, channels=8, seconds=seconds)
    _summarise(result, {"arrivals": arrivals, "stats": [], "rss": []}, tmp_path)
    assert result.recovered_after_s is None


def test_the_hostile_batch_holds_every_row_and_each_is_refused_or_counted() -> None:
    hostile = Hostile()
    batches = [hostile.batch() for _ in range(61)]
    topics = {t for t, _ in batches[0]}
    for sensor in ("fs10", "fs0", "fstrue", "seq", "deep", "fsbig", "reboot", "wrap", "chan"):
        assert any(f"evil-{sensor}/" in t for t in topics), sensor
    assert sum(t.startswith("sensors/flood") for t, _ in batches[0]) == NEW_IDS_PER_S
    assert sum(t.startswith("sensors/bad id") for t, _ in batches[0]) == INVALID_IDS_PER_S
    # The malformed JSON rows are refused by the decoder with a reason, never accepted.
    for topic, payload in batches[0][:7]:
        if "evil-fs10" in topic or "evil-acc2" in topic or "evil-fs0" in topic:
            continue  # valid payloads at rates the features cannot use: admission refuses
        with pytest.raises(DecodeError):
            decode(topic, payload)
    # The wrapping sensor's FMB1 seq crosses 2^32 (the field wraps to 0) within a minute.
    wrap = [decode(t, p).seq for b in batches for t, p in b if "evil-wrap" in t]
    assert max(wrap) > 2**32 - 100 and 0 in wrap
    reboot = [decode(t, p).seq for b in batches for t, p in b if "evil-reboot" in t]
    assert reboot[800] == 0 and reboot[799] == 799  # back to 0 after 40 s, clock going on
