"""Lambda entry `adoscale.handlers.act.handler`: carry out a plan (launch, drain, stop, delete, enable).

Event: the decide output; result: the same with `"report"` and `"launched"` (task ARNs, for the waiter).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.handlers._control import BadEventError, load_config, parsed, pool_config, reconciler, require
from adoscale.reconcile import PoolReport
from adoscale.scaling.serde import plan_from_json, snapshot_from_json

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


@logger.inject_lambda_context(log_event=False, correlation_id_path="execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        body = require(event, "pool", "pool_id", "plan", "snapshot")
        config = load_config()
        pool = pool_config(config, body["pool"])
        decision = parsed("plan", plan_from_json, body["plan"])
        snapshot = parsed("snapshot", snapshot_from_json, body["snapshot"])
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    report = PoolReport(pool=pool.name, queued=snapshot.queued, running=snapshot.running)
    with reconciler(config) as rec:
        launched = rec.act_plan(pool, int(body["pool_id"]), decision, report)
    logger.info("acted", extra={"pool": pool.name, **report.as_dict()})
    return {**body, "report": report.as_dict(), "launched": launched, "wait_rounds": 0}
