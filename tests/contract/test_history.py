"""The `History` port's contract, run against every implementation: `DynamoHistory` (moto; one item per pool
in the lease table) and `MemoryHistory`.

A pool never saved loads as an empty record; a saved record loads back with every field; pools are
independent; a saved record is a snapshot; a record at the arrivals bound (`MAX_ARRIVALS`, which keeps the
DynamoDB item within its size limit) round-trips.

The record's times round-trip to the second: DynamoHistory stores epoch seconds (arrivals truncated,
`last_pass` and `idle_seconds` rounded), MemoryHistory keeps them exactly. The exact round trip below uses
whole seconds; the precision test states the bound both keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws
from pydantic import TypeAdapter

from adoscale.history import DynamoHistory, History, HistoryRecord, MemoryHistory
from adoscale.history.base import MAX_ARRIVALS, observe
from tests.aws import create_lease_table

TABLE = "adoscale-leases"
MONDAY_9 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.fixture(params=["DynamoHistory-moto", "MemoryHistory"])
def history(request: pytest.FixtureRequest) -> Iterator[History]:
    if request.param == "MemoryHistory":
        yield MemoryHistory()
        return
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        yield DynamoHistory(dynamodb, TABLE)


def _record() -> HistoryRecord:
    return HistoryRecord(
        arrivals=[
            MONDAY_9 - timedelta(days=6, hours=3),
            MONDAY_9 - timedelta(minutes=5),
            MONDAY_9,
            MONDAY_9,  # two jobs queued in the same second are two arrivals
            # Any time zone: an instant is an instant.
            datetime(2026, 1, 5, 10, 0, 7, tzinfo=CET),
        ],
        max_request_id=4711,
        idle_day="2026-01-05",
        idle_seconds=1234.0,
        last_pass=MONDAY_9 + timedelta(seconds=30),
    )


def test_a_pool_never_saved_loads_as_an_empty_record(history: History) -> None:
    assert history.load("linux") == HistoryRecord()


def test_a_saved_record_loads_back_with_every_field(history: History) -> None:
    history.save("linux", _record())
    loaded = history.load("linux")
    assert loaded == _record()
    assert [t.tzinfo is not None for t in loaded.arrivals] == [True] * 5
    assert loaded.last_pass is not None and loaded.last_pass.tzinfo is not None
    # Saved again, a loaded record is still the same record.
    history.save("linux", loaded)
    assert history.load("linux") == _record()


def test_a_record_without_a_last_pass_round_trips(history: History) -> None:
    record = HistoryRecord(arrivals=[MONDAY_9], max_request_id=1, idle_day="2026-01-05", idle_seconds=0.0)
    history.save("linux", record)
    assert history.load("linux") == record


def test_times_round_trip_to_the_second(history: History) -> None:
    saved = HistoryRecord(
        arrivals=[MONDAY_9 + timedelta(seconds=0.25), MONDAY_9 + timedelta(seconds=1.75)],
        max_request_id=2,
        idle_day="2026-01-05",
        idle_seconds=90.4,
        last_pass=MONDAY_9 + timedelta(seconds=2.6),
    )
    history.save("linux", saved)
    loaded = history.load("linux")
    assert len(loaded.arrivals) == 2
    assert all(abs(a - b) < timedelta(seconds=1) for a, b in zip(loaded.arrivals, saved.arrivals, strict=True))
    assert loaded.last_pass is not None and abs(loaded.last_pass - MONDAY_9 - timedelta(seconds=2.6)) < timedelta(
        seconds=1
    )
    assert abs(loaded.idle_seconds - 90.4) <= 0.5
    assert (loaded.max_request_id, loaded.idle_day) == (2, "2026-01-05")


def test_arrivals_saved_out_of_order_load_as_the_same_arrivals(history: History) -> None:
    arrivals = [MONDAY_9, MONDAY_9 - timedelta(hours=1), MONDAY_9 - timedelta(days=1)]
    history.save("linux", HistoryRecord(arrivals=arrivals, max_request_id=3))
    assert sorted(history.load("linux").arrivals) == sorted(arrivals)


def test_pools_are_independent(history: History) -> None:
    history.save("linux", _record())
    assert history.load("windows") == HistoryRecord()
    other = HistoryRecord(arrivals=[MONDAY_9 - timedelta(hours=2)], max_request_id=9, idle_day="2026-01-04")
    history.save("windows", other)
    assert history.load("linux") == _record()
    assert history.load("windows") == other
    # A save replaces that pool's record only.
    history.save("linux", HistoryRecord(max_request_id=4712))
    assert history.load("linux") == HistoryRecord(max_request_id=4712)
    assert history.load("windows") == other


def test_a_saved_record_is_a_snapshot(history: History) -> None:
    record = _record()
    history.save("linux", record)
    record.arrivals.append(MONDAY_9 + timedelta(hours=1))
    record.max_request_id = 9999
    loaded = history.load("linux")
    assert loaded == _record()
    loaded.arrivals.clear()  # nor does changing what was loaded change what is stored
    assert history.load("linux") == _record()


def test_a_record_s_copy_is_equal_and_shares_nothing_mutable() -> None:
    """`HistoryRecord.copy` is what a pass uses instead of `copy.deepcopy` (which was most of a warm pool's
    pass CPU on two weeks of arrivals): equal, and appending to the copy leaves the original alone."""
    original = _record()
    copied = original.copy()
    assert copied == original and copied.arrivals is not original.arrivals
    copied.arrivals.append(MONDAY_9 + timedelta(hours=1))
    copied.max_request_id += 1
    assert original == _record()


def test_observed_arrivals_are_kept_in_utc_s_own_tzinfo() -> None:
    """Job times decoded from ADO carry pydantic's tzinfo; compared with the clock's and the stored arrivals'
    (datetime.UTC), every comparison asks both for their offsets, which made the forecast's searches over two
    weeks of arrivals ten times slower (docs/performance.md). The instant is kept, the tzinfo made UTC's."""
    decoded = TypeAdapter(datetime).validate_python("2026-01-05T08:59:00Z")
    local = datetime(2026, 1, 5, 10, 0, 7, tzinfo=CET)
    record = HistoryRecord()
    observe(record, [(1, decoded), (2, local)], 0, MONDAY_9)
    assert record.arrivals == [decoded, local]
    assert all(at.tzinfo is UTC for at in record.arrivals)


def test_the_metrics_marks_round_trip_exactly(history: History) -> None:
    """The marks of what the metrics counted (`Watermark`) compare the service's stamps for equality, so they
    round-trip to the microsecond, unlike the warm pool's times."""
    from adoscale.history import Watermark

    stamp = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    record = HistoryRecord(
        max_request_id=3,
        jobs_counted=Watermark(stamp, (41, 42)),
        agents_counted=Watermark(stamp + timedelta(microseconds=1), (7,)),
    )
    history.save("linux", record)
    assert history.load("linux") == record
    history.save("linux", HistoryRecord(jobs_counted=Watermark(stamp, ())))
    assert history.load("linux") == HistoryRecord(jobs_counted=Watermark(stamp, ()))


def test_the_running_jobs_and_durations_round_trip(history: History) -> None:
    """What the history learns of how long the pool's jobs run: the running jobs' assign times (to the second,
    as the other times), the durations in whole seconds, oldest first, and the mark of the finishes counted
    exactly."""
    from adoscale.history import Watermark

    record = HistoryRecord(
        max_request_id=12,
        running={11: MONDAY_9 - timedelta(minutes=3), 12: MONDAY_9},
        durations=[281.0, 0.0, 1799.0, 45.0, 300.0, 12.0],
        finished_counted=Watermark(datetime(2026, 1, 5, 8, 59, 1, 5, tzinfo=UTC), (9, 10)),
        last_pass=MONDAY_9,
    )
    history.save("linux", record)
    loaded = history.load("linux")
    assert loaded == record
    assert loaded.demand(MONDAY_9).job_seconds == 163.0  # between 45 and 281
    assert all(at.tzinfo is not None for at in loaded.running.values())


def test_durations_round_trip_in_whole_seconds(history: History) -> None:
    history.save("linux", HistoryRecord(durations=[281.4, 59.6]))
    assert [round(d) for d in history.load("linux").durations] == [281, 60]


def test_the_agents_start_ups_round_trip_oldest_first_in_whole_seconds(history: History) -> None:
    """What the history learns of how long the pool's agents take to come online (issue 25)."""
    record = HistoryRecord(max_request_id=3, startups=[41.0, 238.0, 0.0, 7200.0, 245.0, 252.0])
    history.save("linux", record)
    loaded = history.load("linux")
    assert loaded == record
    assert loaded.demand(MONDAY_9).startup_s == 241.5  # between 238 and 245
    history.save("linux", HistoryRecord(startups=[61.4, 59.6]))
    assert [round(s) for s in history.load("linux").startups] == [61, 60]


def test_the_agents_counted_round_trip(history: History) -> None:
    """The ids of the agents counted online (issue 25: a reconnecting agent is not counted again): any ids,
    none (kept, and empty), and not kept at all (a record from before them: None) are three different records."""
    for counted in (frozenset({7, 11, 2**31 - 1}), frozenset(), None):
        record = HistoryRecord(max_request_id=3, started_agents=counted)
        history.save("linux", record)
        assert history.load("linux") == record


def test_a_record_at_every_bound_round_trips(history: History) -> None:
    """MAX_ARRIVALS bounds the DynamoDB item (400 KB at most: moto refuses larger items, from about 405,000
    bytes by its count; one arrival every 30 seconds for a week fills it). With a job running on each of the
    most agents a pool may have (config's MAX_AGENTS), the durations and the start-ups kept, and the most
    agents counted a record keeps (STARTED_KEPT, ids as wide as ADO's 32-bit ids), it still fits."""
    from adoscale.config.model import MAX_AGENTS
    from adoscale.history.base import DURATIONS_KEPT, STARTED_KEPT, STARTUPS_KEPT

    assert STARTED_KEPT >= MAX_AGENTS  # every agent of the largest pool, counted

    start = MONDAY_9 - timedelta(days=7)
    record = HistoryRecord(
        arrivals=[start + timedelta(seconds=30 * i) for i in range(MAX_ARRIVALS)],
        max_request_id=10**9,
        idle_day="2026-01-05",
        idle_seconds=86_400.0,
        last_pass=MONDAY_9,
        running={10**9 - i: MONDAY_9 - timedelta(seconds=i) for i in range(MAX_AGENTS)},
        durations=[float(1800 + i) for i in range(DURATIONS_KEPT)],
        startups=[float(86_000 + i) for i in range(STARTUPS_KEPT)],  # the widest numbers a start-up stores
        started_agents=frozenset(2**31 - 1 - i for i in range(STARTED_KEPT)),
    )
    history.save("linux", record)
    loaded = history.load("linux")
    assert len(loaded.arrivals) == MAX_ARRIVALS
    assert loaded == record
