"""How long the pool's jobs run, as the warm pool's history learns it (`adoscale.history.base.observe`,
`HistoryRecord.demand`): a job seen finished counts its finish - assign exactly, a job that leaves the
running ones without a finish seen counts the midpoint of the two passes - its assign, each job once, the
last DURATIONS_KEPT kept; the forecast gets their median from DURATIONS_NEEDED on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adoscale.history import HistoryRecord
from adoscale.history.base import DURATIONS_KEPT, DURATIONS_NEEDED, observe

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_job_that_leaves_the_running_ones_unseen_ran_until_the_passes_midpoint() -> None:
    record = HistoryRecord()
    observe(record, [(1, at(0))], 0, at(10), assigned=[(1, at(0), at(5))])
    assert record.running == {1: at(5)} and record.durations == []
    # Gone from every read (its agent removed its registration): it finished between 10 s and 70 s.
    observe(record, [], 0, at(70))
    assert record.durations == [35.0]  # midpoint 40 s - assigned at 5 s
    assert record.running == {}
    observe(record, [], 0, at(130))
    assert record.durations == [35.0]


def test_a_finish_seen_counts_exactly_and_once() -> None:
    record = HistoryRecord()
    observe(record, [(1, at(0))], 0, at(10), assigned=[(1, at(0), at(5))])
    # Its agent's last completed request: finished at 47 s, by the service's clock.
    seen_finished = {"assigned": [(1, at(0), at(5))], "finished": [(1, at(47))]}
    observe(record, [], 0, at(70), **seen_finished)
    assert record.durations == [42.0] and record.running == {}
    # Still the agent's last completed request on the passes after: counted already.
    observe(record, [], 0, at(130), **seen_finished)
    observe(record, [], 0, at(190), **seen_finished)
    assert record.durations == [42.0]


def test_a_job_run_entirely_between_two_passes_counts_once_from_its_finish() -> None:
    record = HistoryRecord()
    observe(record, [], 0, at(0))
    for now in (60, 120, 180):
        observe(record, [], 0, at(now), assigned=[(7, at(20), at(25))], finished=[(7, at(45))])
    assert record.durations == [20.0]


def test_a_finish_older_than_the_counted_mark_still_counts_once_for_a_job_seen_running() -> None:
    """Finish stamps need not come in order across passes (one agent's read is older than another's): a job
    the last pass saw running is counted when it is seen finished whatever its stamp, and not again."""
    record = HistoryRecord()
    observe(record, [], 0, at(0), assigned=[(1, at(0), at(1)), (2, at(0), at(2))])
    observe(record, [], 0, at(60), assigned=[(1, at(0), at(1)), (2, at(0), at(2))], finished=[(2, at(50))])
    assert record.durations == [48.0] and record.running == {1: at(1)}
    both = {"assigned": [(1, at(0), at(1)), (2, at(0), at(2))], "finished": [(1, at(40)), (2, at(50))]}
    observe(record, [], 0, at(120), **both)
    observe(record, [], 0, at(180), **both)
    assert record.durations == [48.0, 39.0]


def test_a_job_handed_back_to_the_queue_has_not_finished() -> None:
    """A request that lost its agent before running and waits again is still among the pool's unfinished
    ones: no duration for it; when an agent takes it again it runs from its new assign time."""
    record = HistoryRecord()
    observe(record, [(1, at(0))], 0, at(10), assigned=[(1, at(0), at(5))])
    observe(record, [(1, at(0))], 0, at(70))  # queued again: no assign time
    assert record.durations == [] and record.running == {}
    observe(record, [(1, at(0))], 0, at(130), assigned=[(1, at(0), at(100))])
    observe(record, [], 0, at(190), assigned=[(1, at(0), at(100))], finished=[(1, at(160))])
    assert record.durations == [60.0]


def test_a_job_still_running_counts_nothing_and_keeps_its_assign_time() -> None:
    record = HistoryRecord()
    for now in (10, 70, 130):
        observe(record, [(3, at(0))], 0, at(now), assigned=[(3, at(0), at(5))])
    assert record.durations == [] and record.running == {3: at(5)}


def test_durations_are_kept_oldest_first_by_finish_and_bounded() -> None:
    record = HistoryRecord()
    observe(record, [], 0, at(0), assigned=[(1, at(0), at(0)), (2, at(0), at(0))])
    # Job 2 finished (seen) at 30 s, job 1 vanished: its estimate is the midpoint, 50 s.
    observe(record, [], 0, at(100), assigned=[(2, at(0), at(0))], finished=[(2, at(30))])
    assert record.durations == [30.0, 50.0]
    now = 100
    for rid in range(10, 10 + DURATIONS_KEPT + 10):  # job `rid` runs `rid` seconds
        now += 60
        observe(record, [], 0, at(now), assigned=[(rid, at(now - 90), at(now - rid))], finished=[(rid, at(now))])
    assert len(record.durations) == DURATIONS_KEPT
    assert record.durations == [float(rid) for rid in range(20, 10 + DURATIONS_KEPT + 10)]


def test_a_duration_is_never_negative() -> None:
    """The midpoint is the controller's clock and the assign time the service's: a controller clock behind the
    service's must not make a job run for less than nothing."""
    record = HistoryRecord()
    observe(record, [], 0, at(0), assigned=[(1, at(0), at(100))])
    observe(record, [], 0, at(60))
    assert record.durations == [0.0]


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ([], None),
        ([60.0] * (DURATIONS_NEEDED - 1), None),
        ([10.0, 20.0, 30.0, 40.0, 1000.0], 30.0),  # the median: one hung job does not move it
        ([10.0, 20.0, 30.0, 40.0, 50.0, 1000.0], 35.0),
    ],
)
def test_demand_gives_the_median_duration_from_five(durations: list[float], expected: float | None) -> None:
    assert DURATIONS_NEEDED == 5
    assert HistoryRecord(durations=durations).demand(T0).job_seconds == expected


def test_demand_learns_from_observed_jobs() -> None:
    record = HistoryRecord()
    now = 0
    for rid, seconds in enumerate([300.0, 240.0, 600.0, 280.0], start=1):
        now += 900
        observe(
            record,
            [],
            0,
            at(now),
            assigned=[(rid, at(now - 700), at(now - 700))],
            finished=[(rid, at(now - 700 + seconds))],
        )
        assert record.demand(at(now)).job_seconds is None
    observe(record, [], 0, at(now + 900), assigned=[(9, at(now), at(now))], finished=[(9, at(now + 320))])
    assert record.demand(at(now + 900)).job_seconds == 300.0


def test_a_record_s_copy_shares_neither_its_running_jobs_nor_its_durations() -> None:
    original = HistoryRecord(running={1: T0}, durations=[30.0])
    copied = original.copy()
    assert copied == original
    copied.running[2] = T0
    copied.durations.append(40.0)
    assert original == HistoryRecord(running={1: T0}, durations=[30.0])
