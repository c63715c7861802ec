"""Lambda entry `adoscale.handlers.waiter.handler`: after a launch, are the new tasks RUNNING or STOPPED?

Event: the pass's output (`"pool"`, `"launched"`: task ARNs, `"wait_rounds"`); result: the same with
`"pending"` (tasks still starting) and `"failed"` (tasks that stopped before running, with their reasons),
and `wait_rounds` increased. Read-only: it never changes anything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from adoscale.compute.ec2 import launch_progress
from adoscale.handlers._control import BadEventError, load_config, pool_config
from adoscale.handlers._runtime import client
from adoscale.validation import one_line

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))

DESCRIBE_MAX = 100
TaskArn = Annotated[str, Field(min_length=1, max_length=2048)]


class WaitEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    pool: Annotated[str, Field(min_length=1, max_length=256)]
    launched: list[TaskArn] = Field(max_length=1000)
    wait_rounds: StrictInt = Field(0, ge=0, le=100)
    task_wait_s: StrictInt = Field(10, ge=0, le=120)


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        try:
            request = parse(event=event, model=WaitEvent)
        except ValidationError as exc:
            raise BadEventError(one_line(exc, limit=5)) from None
        pool = pool_config(load_config(), request.pool)
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    pending: int = 0
    failed: list[dict[str, Any]] = []
    arns = request.launched
    if pool.ecs is None:  # an EC2 pool: what was launched are instance ids
        pending, failed = launch_progress(client("ec2"), arns)
        arns_to_describe: list[str] = []
    else:
        cluster, ecs, arns_to_describe = pool.ecs.cluster, client("ecs"), arns
    for start in range(0, len(arns_to_describe), DESCRIBE_MAX):
        described = ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + DESCRIBE_MAX])
        for task in described.get("tasks", []):
            status = task.get("lastStatus", "")
            if status == "STOPPED" and not task.get("startedAt"):
                failed.append({"task": task["taskArn"], "reason": task.get("stoppedReason", "unknown")})
            elif status not in ("RUNNING", "STOPPED"):
                pending += 1
        failed += [{"task": f.get("arn", ""), "reason": f.get("reason", "")} for f in described.get("failures", [])]
    if failed:
        logger.warning("tasks failed to start", extra={"pool": pool.name, "failed": failed})
    return {
        "pool": pool.name,
        "launched": arns,
        "task_wait_s": request.task_wait_s,
        "pending": pending,
        "failed": failed,
        "wait_rounds": request.wait_rounds + 1,
    }
