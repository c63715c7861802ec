"""Lambda entry `adoscale.handlers.waiter.handler`: after a launch, are the new tasks RUNNING or STOPPED?

Event: the act output (`"launched"`: task ARNs); result: the same with `"pending"` (count) and
`"failed"` (tasks that stopped before running, with their reasons), and `wait_rounds` increased.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.handlers._control import BadEventError, load_config, pool_config, require
from adoscale.handlers._runtime import client

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


@logger.inject_lambda_context(log_event=False, correlation_id_path="execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = require(event, "pool", "launched")
    arns = body["launched"]
    if not isinstance(arns, list):
        raise BadEventError("launched: expected a list of task ARNs")
    pool = pool_config(load_config(), body["pool"])
    pending, failed = 0, []
    ecs = client("ecs")
    for start in range(0, len(arns), 100):
        described = ecs.describe_tasks(cluster=pool.ecs.cluster, tasks=arns[start : start + 100])
        for task in described.get("tasks", []):
            status = task.get("lastStatus", "")
            if status == "STOPPED" and not task.get("startedAt"):
                failed.append({"task": task["taskArn"], "reason": task.get("stoppedReason", "unknown")})
            elif status not in ("RUNNING", "STOPPED"):
                pending += 1
        failed += [{"task": f.get("arn", ""), "reason": f.get("reason", "")} for f in described.get("failures", [])]
    if failed:
        logger.warning("tasks failed to start", extra={"pool": pool.name, "failed": failed})
    return {**body, "pending": pending, "failed": failed, "wait_rounds": int(body.get("wait_rounds", 0)) + 1}
