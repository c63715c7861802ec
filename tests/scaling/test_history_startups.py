"""How long the pool's agents take to come online, as the warm pool's history learns it (issue 25): the record
keeps the last STARTUPS_KEPT start-ups the pass counted (each agent once, by the metrics' mark), the forecast
gets their median from STARTUPS_NEEDED on, and uses it in place of the assumed start-up unless one is
configured (`WarmPolicy.learn_startup`). A start-up of four or five minutes (EC2, Windows instances) makes
jobs of ten minutes unable to pay for warm agents that a 60 s start-up would have kept for them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adoscale.history import HistoryRecord
from adoscale.history.base import STARTUPS_KEPT, STARTUPS_NEEDED
from adoscale.scaling.warm import Demand, WarmMode, WarmPolicy, startup_policy, warm_target

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def test_the_record_keeps_the_newest_start_ups_oldest_first_and_leaves_the_one_it_came_from() -> None:
    loaded = HistoryRecord(startups=[50.0, 55.0])
    kept = loaded.with_startups([61.0, 42.5])
    assert kept.startups == [50.0, 55.0, 61.0, 42.5]
    assert loaded.startups == [50.0, 55.0]  # the observation's record, as it was read
    full = kept.with_startups(float(i) for i in range(100, 100 + STARTUPS_KEPT))
    assert full.startups == [float(i) for i in range(100, 100 + STARTUPS_KEPT)]
    assert kept.with_startups([]) == kept


def test_a_record_s_copy_shares_no_start_ups() -> None:
    original = HistoryRecord(startups=[60.0])
    copied = original.copy()
    copied.startups.append(70.0)
    assert original.startups == [60.0]


@pytest.mark.parametrize(
    ("startups", "expected"),
    [
        ([], None),
        ([240.0] * (STARTUPS_NEEDED - 1), None),
        ([230.0, 240.0, 250.0, 0.0, 7200.0], 240.0),  # the median: a zero (a skewed clock) and a reconnect
        ([40.0, 50.0, 60.0, 70.0, 80.0, 900.0], 65.0),
    ],
)
def test_demand_gives_the_median_start_up_from_five(startups: list[float], expected: float | None) -> None:
    assert STARTUPS_NEEDED == 5
    assert HistoryRecord(startups=startups).demand(T0).startup_s == expected


# Jobs of ten minutes at an idle share of 0.5, a 90 s horizon and a burst of one job every 6 s.
POLICY = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=30, quantile=0.9, horizon_s=90, idle_share=0.5)
BURST = [T0 + timedelta(seconds=6 * i) for i in range(10)]
NOW = BURST[-1]
JOBS_S = 600.0


def test_a_start_up_learnt_to_be_four_minutes_keeps_fewer_warm_agents_for_the_same_jobs() -> None:
    """Each job leaves 300 s of idle: at the assumed 60 s start-up, 240 s once its own agent's start-up is
    paid, more than an untaken warm agent costs in a burst (a horizon of waiting, its start-up and its drain:
    210 s), so the burst is served at the configured 0.9; at a learnt 240 s, 60 s against the 300 s an
    untaken agent costs at least (q = 1/6), so a warm agent no job takes costs five times what a job leaves."""
    assumed = warm_target(POLICY, Demand(arrivals=BURST, job_seconds=JOBS_S), NOW)
    learnt = warm_target(POLICY, Demand(arrivals=BURST, job_seconds=JOBS_S, startup_s=240.0), NOW)
    assert 0 < learnt.agents < assumed.agents, (learnt, assumed)
    assert assumed.reason.endswith(", q=0.9") and "start-up" not in assumed.reason, assumed
    assert learnt.reason.endswith(", start-up 240 s learnt, q=0.17 (jobs of 600 s)"), learnt


def test_windows_jobs_of_ten_minutes_cannot_pay_for_warm_agents_that_start_in_five() -> None:
    """Issue 25's example: a start-up of five minutes spends all the idle a ten-minute job earns."""
    assert warm_target(POLICY, Demand(arrivals=BURST, job_seconds=JOBS_S), NOW).agents > 0
    assert warm_target(POLICY, Demand(arrivals=BURST, job_seconds=JOBS_S, startup_s=300.0), NOW).agents == 0


def test_a_configured_start_up_is_used_as_given() -> None:
    configured = replace(POLICY, startup_s=240.0, learn_startup=False)
    demand = Demand(arrivals=BURST, job_seconds=JOBS_S, startup_s=60.0)
    target = warm_target(configured, demand, NOW)
    assert target.agents == warm_target(POLICY, replace(demand, startup_s=240.0), NOW).agents
    assert target.agents < warm_target(POLICY, demand, NOW).agents  # the learnt 60 s would keep more
    assert "start-up 240 s configured" in target.reason
    assert startup_policy(configured, demand) == (configured, "configured")


def test_the_start_up_is_not_mentioned_where_it_decides_nothing() -> None:
    """Without the jobs' length known (or without an idle share) the start-up changes neither the quantile
    nor the look-ahead: the reason does not name one, and the size is the same whatever was learnt."""
    unknown = Demand(arrivals=BURST, startup_s=240.0)
    assert warm_target(POLICY, unknown, NOW) == warm_target(POLICY, replace(unknown, startup_s=None), NOW)
    assert "start-up" not in warm_target(POLICY, unknown, NOW).reason
    no_share = replace(POLICY, idle_share=None)
    known = Demand(arrivals=BURST, job_seconds=JOBS_S, startup_s=240.0)
    assert warm_target(no_share, known, NOW) == warm_target(no_share, replace(known, startup_s=None), NOW)
