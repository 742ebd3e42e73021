"""Round-robin slices: every member once per round, however the population changes."""

from __future__ import annotations

from monitor.core.rotation import Rotation


def test_each_member_comes_once_per_round_in_slices() -> None:
    rot: Rotation[int] = Rotation()
    population = set(range(10))
    slices = [rot.take(population, 0.3) for _ in range(4)]  # ceil(0.3 * 10) = 3 each
    assert [len(s) for s in slices] == [3, 3, 3, 3]
    first_round = slices[0] + slices[1] + slices[2] + slices[3][:1]
    assert sorted(first_round) == list(range(10))
    assert len(set(slices[3])) == 3  # a round's end and the next's start never repeat


def test_members_that_left_are_skipped_and_newcomers_join_the_next_round() -> None:
    rot: Rotation[str] = Rotation()
    population = {"a", "b", "c", "d"}
    taken = rot.take(population, 0.5)
    population -= {"a", "b", "c", "d"} - set(taken)  # the untaken two leave
    population |= {"e"}
    nxt = rot.take(population, 0.5)
    assert len(nxt) == 1 and set(nxt) <= population  # 1.5 of 3; those who left skipped
    seen = set(nxt)
    for _ in range(4):
        seen |= set(rot.take(population, 0.5))
    assert seen == population


def test_fractions_carry_over_so_a_round_takes_one_over_share_calls() -> None:
    """A single stream with share 0.1 comes once in ten calls, not on every call (the
    retained state of a one-sensor session is refreshed once per period)."""
    rot: Rotation[str] = Rotation()
    assert rot.take(set(), 0.5) == []
    taken = [rot.take({"only"}, 0.1) for _ in range(30)]
    assert sum(len(t) for t in taken) == 3
    assert all(t in ([], ["only"]) for t in taken)
    many = [len(rot.take(set(range(7)), 0.1)) for _ in range(100)]
    assert sum(many) == 70  # 0.7 a call on average, never more than the population
    assert sorted(rot.take({1, 2, 3}, 5.0)) == [1, 2, 3]
