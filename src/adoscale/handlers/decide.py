"""Lambda entry `adoscale.handlers.decide.handler`: snapshot in, plan out (the pure engine).

Event: the queue-data output `{"pool", "pool_id", "round", "snapshot"}`; result: the same with `"plan"`.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.handlers._control import BadEventError, load_config, parsed, pool_config, require
from adoscale.reconcile import policy_for
from adoscale.scaling import plan
from adoscale.scaling.serde import plan_to_json, snapshot_from_json

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


@logger.inject_lambda_context(log_event=False, correlation_id_path="execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        body = require(event, "pool", "snapshot")
        pool = pool_config(load_config(), body["pool"])
        snapshot = parsed("snapshot", snapshot_from_json, body["snapshot"])
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    decision = plan(snapshot, policy_for(pool))
    logger.info("plan", extra={"pool": pool.name, "launch": decision.launch_count, "drain": len(decision.drain)})
    return {**body, "plan": plan_to_json(decision)}
