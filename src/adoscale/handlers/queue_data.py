"""Lambda entry `adoscale.handlers.queue_data.handler`: observe one pool and publish its queue metrics.

Event `{"pool": NAME, "round": N, ...}` → the same with `pool_id`, `round` + 1 and `snapshot`; event `{"action":
"list"}` → `{"pools": [{"pool": NAME, "round": 0}, ...]}` for the workflow's Map. Metrics go out in
CloudWatch embedded metric format (no PutMetricData calls): QueuedJobs, RunningJobs, IdleAgents,
BusyAgents, StartingTasks, with the pool as dimension, in `ADOSCALE_METRICS_NAMESPACE`; the queued-jobs
metric's name can be set with `ADOSCALE_METRIC_NAME` (the seed's `agent_cw_metric`).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from adoscale.handlers._control import BadEventError, load_config, pool_config, reconciler, require
from adoscale.reconcile import policy_for
from adoscale.scaling import classify
from adoscale.scaling.serde import snapshot_to_json

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))
metrics = Metrics(namespace=os.environ.get("ADOSCALE_METRICS_NAMESPACE", "adoscale"))


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, correlation_id_path="execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        config = load_config()
        if isinstance(event, dict) and event.get("action") == "list":
            metrics.add_metric(name="ConfiguredPools", unit=MetricUnit.Count, value=len(config.pools))
            return {"pools": [{"pool": p.name, "round": 0} for p in config.pools]}
        body = require(event, "pool")
        pool = pool_config(config, body["pool"])
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    with reconciler(config) as rec:
        observation = rec.observe(pool)
    snapshot = observation.snapshot
    c = classify(snapshot, policy_for(pool))
    metrics.add_dimension(name="Pool", value=pool.name)
    queued_name = os.environ.get("ADOSCALE_METRIC_NAME", "QueuedJobs")
    for name, value in (
        (queued_name, snapshot.queued),
        ("RunningJobs", snapshot.running),
        ("IdleAgents", len(c.idle)),
        ("BusyAgents", len(c.busy)),
        ("StartingTasks", len(c.starting)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return {
        **body,  # the workflow's own fields (rounds, cadence) travel through every state
        "pool": pool.name,
        "pool_id": observation.pool_id,
        "round": int(body.get("round", 0)) + 1,
        "snapshot": snapshot_to_json(snapshot),
    }
