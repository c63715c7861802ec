"""The per-pool metrics a pass publishes (CloudWatch, through EMF in the pass Lambda's log), from the pass's
own report: no extra read. The one list of their names: the handler publishes `pool_metrics`, and the
Terraform dashboard and alarms may reference only names in `METRICS` (a test checks it).

Dimension: `Pool`. The queued-jobs metric's name can be renamed by the deployment (`metric_name`, the seed's
`agent_cw_metric`); every other name is fixed.

Which of them a pass publishes is the deployment's choice (`MetricSet`, the setting `metrics`): `full`, every
metric below (17 a pool, about $5.10 a month at CloudWatch's first-tier $0.30 a metric), or `essential`, the two
marked `essential` (about $0.60, the seed's own two): the queued jobs (the seed's scaling signal) and the pass's
errors (launch refusals and tasks failing to start included), on which the pass-errors alarm stands. The
Terraform module creates only the alarms and dashboard widgets whose metrics the chosen set publishes
(docs/operations.md, "Choosing the metrics").

Two metrics are one value per event rather than one per pass (`Metric.each`): `JobWaitSeconds` for each job
first seen assigned (its `assignTime` - `queueTime`) and `AgentStartupSeconds` for each agent first seen
online (its `statusChangedOn` - its task's launch, ECS `createdAt` or the EC2 instance's `LaunchTime`, both
already in the pass's compute read). "First seen" is `adoscale.history.seen.first_seen` over the pool's
job `Watermark` and its agents counted by id, kept in its history record, so each job and agent is counted
by one pass only
(docs/operations.md, "Wait and start-up").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from adoscale.config.model import MetricSet

if TYPE_CHECKING:
    from adoscale.control import PoolReport

DIMENSION = "Pool"

METRIC_SETS: tuple[MetricSet, ...] = get_args(MetricSet)
DEFAULT_METRIC_SET: MetricSet = "full"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str  # CloudWatch's unit names (powertools' MetricUnit values)
    meaning: str
    # One value per event, published only when there is one (no zero that would pull the percentiles down);
    # the others are one value per pass.
    each: bool = False
    # Published with `essential` too: what an operator cannot do without (the queue, and that passes fail).
    essential: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("QueuedJobs", "Count", "queued jobs this pool's agents can run", essential=True),
    Metric("OldestQueuedSeconds", "Seconds", "how long the oldest of them has waited (0: none queued)"),
    Metric("UnservableJobs", "Count", "queued jobs whose demands this pool's agents do not meet"),
    Metric("RunningJobs", "Count", "jobs an agent holds"),
    Metric("BusyAgents", "Count", "agents running a job"),
    Metric("IdleAgents", "Count", "agents online without a job"),
    Metric("StartingTasks", "Count", "tasks whose agent is not online yet"),
    Metric("WarmTarget", "Count", "the warm pool's target"),
    Metric("LaunchedTasks", "Count", "tasks launched by this pass"),
    Metric("LaunchFailures", "Count", "tasks ECS refused to launch in this pass"),
    Metric("DrainedAgents", "Count", "idle agents drained by this pass"),
    Metric("StoppedTasks", "Count", "tasks stopped by this pass"),
    Metric("PassErrors", "Count", "errors of this pass", essential=True),
    Metric("PassSkipped", "Count", "1 when another pass held the pool's lease"),
    Metric("PassDuration", "Seconds", "how long the pass took"),
    Metric("JobWaitSeconds", "Seconds", "each job first seen assigned: assign time - queue time", each=True),
    Metric("AgentStartupSeconds", "Seconds", "each agent first seen online: online - its task's launch", each=True),
)
NAMES = frozenset(m.name for m in METRICS)
_UNITS = {m.name: m.unit for m in METRICS}
PUBLISHED: dict[MetricSet, frozenset[str]] = {
    "full": NAMES,
    "essential": frozenset(m.name for m in METRICS if m.essential),
}


def pool_metrics(
    report: PoolReport, duration_s: float, metric_set: MetricSet = DEFAULT_METRIC_SET
) -> list[tuple[str, str, float]]:
    """(name, unit, value) for one pass's report, only the metrics of `metric_set`. A skipped pass, or one that
    failed before it had read the pool, publishes only that (and its errors, if any, and duration): its counts
    would be zeros never observed."""
    values: dict[str, float]
    if report.skipped:
        # No PassErrors 0: the pass that held the lease publishes its own, and a skipped pass's zero would
        # count as a pass that worked in the pass-errors alarm's p50 over a window (observability.tf).
        errors = {"PassErrors": len(report.errors)} if report.errors else {}
        values = {"PassSkipped": 1, **errors, "PassDuration": round(duration_s, 3)}
    elif report.observation is None:
        # The pass failed before it had read the pool: an error, and no counts it never saw.
        values = {"PassErrors": max(1, len(report.errors)), "PassSkipped": 0, "PassDuration": round(duration_s, 3)}
    else:
        values = {
            "QueuedJobs": report.queued,
            "OldestQueuedSeconds": report.oldest_queued_s or 0.0,
            "UnservableJobs": report.unservable,
            "RunningJobs": report.running,
            "BusyAgents": report.busy,
            "IdleAgents": report.idle,
            "StartingTasks": report.starting,
            "WarmTarget": report.warm,
            "LaunchedTasks": report.launched,
            "LaunchFailures": report.launch_failures,
            "DrainedAgents": report.drained,
            "StoppedTasks": report.stopped,
            "PassErrors": len(report.errors),
            "PassSkipped": 0,
            "PassDuration": round(duration_s, 3),
        }
    published = [(name, _UNITS[name], float(value)) for name, value in values.items()]
    published += [("JobWaitSeconds", "Seconds", float(w["wait_s"])) for w in report.job_waits]
    published += [("AgentStartupSeconds", "Seconds", float(s["startup_s"])) for s in report.agent_startups]
    chosen = PUBLISHED[metric_set]
    return [metric for metric in published if metric[0] in chosen]
