"""The simulator's passes fill the warm pool's history with the jobs' durations as deployed passes would
(`HistoryRecord.running`, `.durations`), its event-driven shortcuts hide no job's finish, and a generated
trace's earlier days come with durations of their own, drawn without moving any other draw of the trace."""

from __future__ import annotations

import hashlib
import json
import statistics

import pytest

from adoscale.history import HistoryRecord
from adoscale.history.base import DURATIONS_KEPT
from adoscale_lab.sim import POLICIES, simulate
from adoscale_lab.sim.families import FAMILIES, MAX_AGENTS, generate
from adoscale_lab.sim.workloads import JobSpec

PREDICTIVE = POLICIES["adoscale-predictive"]
PASS_INTERVAL_S = 15.0  # the deployed workflow observes each minute at +0, 15, 30 and 45 s


def _history(jobs: list[JobSpec], **kwargs: object) -> HistoryRecord:
    kept: list[HistoryRecord] = []
    simulate(jobs, PREDICTIVE, seed=3, on_history=kept.append, **kwargs)  # type: ignore[arg-type]
    assert len(kept) == 1
    return kept[0]


def test_each_simulated_job_s_duration_is_recorded_as_every_pass_would_record_it() -> None:
    """Jobs 20 minutes apart, the pool quiet between them: the event-driven loop skips the quiet passes, but
    not the one after a job's end (it would have taken the next job's arrival, 20 minutes on, for the end)."""
    durations = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    jobs = [JobSpec(9 * 3600 + 1200 * i + 7, d) for i, d in enumerate(durations)]
    event = _history(jobs)
    every = _history(jobs, event_driven=False)
    assert event.durations == every.durations
    assert event.running == every.running == {}
    # Assigned to finished, as the passes saw it: within a pass interval of what the job ran.
    assert len(event.durations) == len(durations)
    assert all(abs(got - ran) <= PASS_INTERVAL_S for got, ran in zip(event.durations, durations, strict=True))


def test_a_generated_day_s_median_duration_is_learnt_within_a_fifth() -> None:
    """fanout-7: 56 jobs of about 4.7 minutes (a burst of 47 and a trickle); the earlier days' durations left
    out, so that what is kept is what today's passes recorded."""
    trace = generate("fanout", 7)
    record = _history(
        trace.jobs,
        max_agents=MAX_AGENTS,
        measure_from_s=trace.measure_from_s,
        history_s=trace.history_s,
        observe_s=(trace.measure_from_s, trace.measure_until_s),
    )
    assert len(record.durations) == DURATIONS_KEPT < len(trace.jobs)
    learnt = record.demand(record.last_pass or record.arrivals[-1]).job_seconds
    assert learnt is not None
    assert abs(learnt / 60 - trace.job_minutes) <= 0.2 * trace.job_minutes, (learnt / 60, trace.job_minutes)


def test_the_earlier_days_durations_are_seeded_by_when_they_finished() -> None:
    """The earlier days' jobs, as their passes would have recorded them: the last DURATIONS_KEPT to finish,
    oldest first; today's jobs come after them."""
    history_s = [3600.0 + 60 * i for i in range(DURATIONS_KEPT + 10)]
    # The first job runs longest: it finishes last of all the earlier days' jobs.
    history_job_s = [7200.0] + [120.0 + i for i in range(1, DURATIONS_KEPT + 10)]
    today = [JobSpec(86400 + 9 * 3600 + 7, 180.0)]
    record = _history(today, history_s=history_s, history_job_s=history_job_s, measure_from_s=86400)
    assert record.durations[: DURATIONS_KEPT - 2] == [120.0 + i for i in range(12, DURATIONS_KEPT + 10)]
    assert record.durations[DURATIONS_KEPT - 2] == 7200.0
    assert abs(record.durations[-1] - 180.0) <= PASS_INTERVAL_S
    assert len(record.arrivals) == len(history_s) + 1


def test_durations_for_another_number_of_earlier_jobs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^2 durations for 3 earlier arrivals$"):
        simulate([], PREDICTIVE, history_s=[1.0, 2.0, 3.0], history_job_s=[60.0, 60.0])


def _draws() -> str:
    """Every draw of the generated traces but the earlier days' durations."""
    traces = [generate(family, seed) for family in FAMILIES for seed in range(1, 6)]
    drawn = [
        (
            t.family,
            t.seed,
            [(j.queued_at_s, j.duration_s, j.demands) for j in t.jobs],
            t.history_s,
            t.measure_from_s,
            t.measure_until_s,
            t.description,
            t.weekdays_only,
            t.job_minutes,
            t.bursts,
        )
        for t in traces
    ]
    return hashlib.sha256(json.dumps(drawn).encode()).hexdigest()


def test_drawing_the_earlier_days_durations_moved_no_other_draw() -> None:
    """The digest of every other draw, as `generate` gave it before the durations were drawn (main at
    001af49): they come from a generator of their own."""
    assert _draws() == "36c601b6a91d314365bb31b131ac753e3f0b9259ac4563e32e99de69b20ea646"


def test_the_earlier_days_jobs_run_as_long_as_today_s() -> None:
    trace = generate("burst", 2)
    assert len(trace.history_job_s) == len(trace.history_s) > 100
    assert generate("burst", 2).history_job_s == trace.history_job_s
    assert min(trace.history_job_s) >= 30.0
    assert abs(statistics.fmean(trace.history_job_s) / 60 - trace.job_minutes) <= 0.1 * trace.job_minutes
    assert trace.history_job_s != tuple(j.duration_s for j in trace.jobs)[: len(trace.history_job_s)]
