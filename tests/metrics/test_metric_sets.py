"""The deployment's choice of metrics (issue 25 item 3): `essential` publishes at most two metrics a pool, the
queued jobs and the pass's errors, in every kind of pass; `full` everything `adoscale.metrics.METRICS` lists.
`pool_metrics` is the one place that decides (the pass Lambda's EMF: tests/integration/test_pass_metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adoscale.config import Config
from adoscale.control import PoolReport
from adoscale.control.observe import Observation
from adoscale.metrics import METRIC_SETS, METRICS, NAMES, PUBLISHED, pool_metrics
from adoscale.scaling import PoolSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _observed(**fields: object) -> PoolReport:
    snapshot = PoolSnapshot(pool="linux", now=T0, queued=0, running=0, agents=(), tasks=())
    return PoolReport(pool="linux", observation=Observation("linux", 1, snapshot, (), ()), **fields)  # type: ignore[arg-type]


def test_the_sets_are_the_configurations_values_and_essential_is_at_most_two() -> None:
    assert set(METRIC_SETS) == set(PUBLISHED) == {"full", "essential"}
    assert PUBLISHED["full"] == NAMES and len(NAMES) == len(METRICS) == 17
    assert PUBLISHED["essential"] == {"QueuedJobs", "PassErrors"}
    assert Config.model_fields["metrics"].default == "full"
    with pytest.raises(ValueError, match="metrics"):
        Config.model_validate({"organization_url": "https://dev.azure.com/o", "metrics": "some"})


def test_essential_publishes_the_queue_and_the_errors_of_every_kind_of_pass() -> None:
    busy = _observed(
        queued=4,
        busy=2,
        launched=1,
        errors=["launch: ECS refused: RESOURCE:FARGATE", "another"],
        launch_failures=1,
        job_waits=[{"request_id": 1, "wait_s": 40.0}],
        agent_startups=[{"agent": "ado-t1", "startup_s": 42.0}],
    )
    assert pool_metrics(busy, 0.4, "essential") == [("QueuedJobs", "Count", 4.0), ("PassErrors", "Count", 2.0)]
    full = pool_metrics(busy, 0.4, "full")
    assert {name for name, _, _ in full} == NAMES and pool_metrics(busy, 0.4) == full  # full is the default
    # A pass that failed before it read the pool: its error only; a skipped pass: no error, no queue it never read.
    unread = PoolReport(pool="linux", errors=["AdoUnavailableError: 503"])
    assert pool_metrics(unread, 0.1, "essential") == [("PassErrors", "Count", 1.0)]
    skipped = PoolReport(pool="linux", skipped="held")
    # Nor a PassErrors 0: it would count as a pass that worked in the pass-errors alarm's p50 (another pass
    # held the lease and published its own).
    assert pool_metrics(skipped, 0.1, "essential") == []
    assert "PassErrors" not in {name for name, _, _ in pool_metrics(skipped, 0.1)}
