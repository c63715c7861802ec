"""Lambda entry `adoscale.handlers.deregister.handler`: remove dead agent registrations (the seed's
function), keeping the placeholder. Event `{"pool": NAME}` (one pool) or `{}` (every configured pool)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.handlers._control import BadEventError, load_config, pool_config, reconciler
from adoscale.reconcile import PoolReport, policy_for
from adoscale.scaling import plan

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise BadEventError(f"expected a JSON object, got {type(event).__name__}")
    config = load_config()
    pools = [pool_config(config, event["pool"])] if "pool" in event else list(config.pools)
    deleted: dict[str, int] = {}
    with reconciler(config) as rec:
        for pool in pools:
            observation = rec.observe(pool)
            full = plan(observation.snapshot, policy_for(pool))
            only_deletes = replace(full, launch=None, drain=(), stop=(), enable=())
            report = PoolReport(pool=pool.name)
            rec.act_plan(pool, observation.pool_id, only_deletes, report)
            deleted[pool.name] = report.deleted
    logger.info("dead registrations removed", extra={"deleted": deleted})
    return {"deleted": deleted}
