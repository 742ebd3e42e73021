"""Round-robin slices: every member once per round, however the population changes."""

from __future__ import annotations

from monitor.rotation import Rotation


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
    assert len(nxt) == 2 and set(nxt) <= population  # the two who left are skipped
    seen = set(nxt)
    for _ in range(3):
        seen |= set(rot.take(population, 0.5))
    assert seen == population


def test_at_least_one_and_never_more_than_the_population() -> None:
    rot: Rotation[int] = Rotation()
    assert rot.take(set(), 0.5) == []
    assert len(rot.take({1, 2, 3}, 0.0001)) == 1
    assert sorted(rot.take({1, 2, 3}, 5.0)) == [1, 2, 3]
