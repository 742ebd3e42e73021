import numpy as np
import pytest

from monitor.detect.cusum import Cusum, siegmund_arl0, threshold_for_arl0


@pytest.mark.parametrize("k", [0.25, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("arl0", [100.0, 1e4, 1e6])
def test_threshold_meets_the_requested_arl0(k: float, arl0: float) -> None:
    h = threshold_for_arl0(k, arl0)
    assert siegmund_arl0(k, h) == pytest.approx(arl0, rel=1e-6)
    assert siegmund_arl0(k, h * 0.9) < arl0


def test_siegmund_matches_monte_carlo_run_length() -> None:
    """The design formula against simulated in-control run lengths of our own Cusum."""
    k, arl0 = 0.5, 200.0
    h = threshold_for_arl0(k, arl0)
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(400):
        c = Cusum(k, h)
        n = 0
        while True:
            n += 1
            if c.update(float(rng.standard_normal())):
                break
        lengths.append(n)
    assert np.mean(lengths) == pytest.approx(arl0, rel=0.15)


def test_a_shift_is_found_fast() -> None:
    c = Cusum(0.5, threshold_for_arl0(0.5, 1e4))
    n = 0
    while not c.update(2.0):  # a 2-sigma shift
        n += 1
    assert n < 10


@pytest.mark.parametrize("arl0", [20.0, 200.0, 5e3, 28_800.0, 1e6, 1e9])
def test_direct_threshold_is_the_smallest_h_reaching_arl0(arl0: float) -> None:
    """The fixed-point solution against the bisection it replaces, and against the
    definition itself: ARL0 reached at h, not reached a billionth below it."""
    from monitor.detect.cusum import threshold_by_bisection

    for k in np.linspace(0.05, 2.5, 50):
        h = threshold_for_arl0(float(k), arl0)
        assert siegmund_arl0(float(k), h) >= arl0
        below = h * (1.0 - 1e-9)
        assert below <= 0.0 or siegmund_arl0(float(k), below) < arl0
        assert h == pytest.approx(threshold_by_bisection(float(k), arl0), rel=2e-9)


@pytest.mark.parametrize("arl0", [12.549562, 12.549435392873134, 12.5494353928, 1e300])
def test_threshold_near_h_zero_and_at_huge_arl0_takes_few_steps(
    arl0: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: stepping h by its own ulp near h = 0 took millions of ARL0
    evaluations (the threshold is computed inside a tick). Now a handful, else the
    bisection's ~40."""
    from monitor.detect import cusum

    calls = 0

    def counting(k: float, h: float) -> float:
        nonlocal calls
        calls += 1
        return siegmund_arl0(k, h)

    monkeypatch.setattr(cusum, "siegmund_arl0", counting)
    h = cusum.threshold_for_arl0(2.0, arl0)
    assert calls < 200
    assert h >= 0.0 and siegmund_arl0(2.0, h) >= arl0
