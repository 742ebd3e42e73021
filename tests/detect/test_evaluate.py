"""Guards the detector's figures on a small fresh scenario set so they cannot silently
regress (the full 60-recording figures are in docs/evaluation.md)."""

from pathlib import Path

from monitor.cli import main
from monitor.core.config import Settings
from monitor.tools.evaluate import evaluate, format_summary
from simulators.scenarios import make_scenarios


def test_small_scenario_set_meets_the_targets(tmp_path: Path) -> None:
    make_scenarios(18, 2024, tmp_path)
    results, summary = evaluate(tmp_path, Settings())
    assert summary.recordings == 18
    assert summary.positives >= 8
    assert summary.sensitivity >= 0.9
    assert summary.false_alarms_per_hour <= 1.0
    assert summary.delay_median_s is not None and summary.delay_median_s <= 45.0
    assert {r.modality for r in results} == {"emg", "acc"}


def test_evaluate_cli_json_and_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_scenarios(4, 11, tmp_path)
    assert main(["evaluate", str(tmp_path), "--json"]) == 0
    import json

    def strict(token: str) -> None:
        raise AssertionError(f"not strict JSON: {token}")

    summary = json.loads(capsys.readouterr().out, parse_constant=strict)
    assert summary["recordings"] == 4
    # Conditions without an onset have no sensitivity: null, never NaN.
    assert any(p["sensitivity"] is None for p in summary["by_condition"].values())
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "truth.json" in capsys.readouterr().err


def test_scores_are_reported_per_condition(tmp_path: Path) -> None:
    make_scenarios(6, 11, tmp_path)
    results, summary = evaluate(tmp_path, Settings())
    kinds = {r.condition for r in results}
    assert "" not in kinds
    assert set(summary.by_condition) == kinds
    assert sum(p["recordings"] for p in summary.by_condition.values()) == 6
    assert "by condition:" in format_summary(summary)
