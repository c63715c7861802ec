"""Lambda entry `adoscale.handlers.waiter.handler`: after a launch, are the new tasks RUNNING or STOPPED?

Event: the pass's output (`"pool"`, `"launched"`: task ARNs, `"wait_rounds"`); result: the same with
`"pending"` (tasks still starting) and `"failed"` (tasks that stopped before running, with their reasons;
a task the compute service does not know is failed as `MISSING`, ECS's word for it), and `wait_rounds`
increased; `start_incident_open` passed on from the pass (the workflow alerts on failed starts only when it is
false: one alert per start-failure incident) and `wait_incident_open` likewise (the workflow has a wait that
completes while it is true close the pool's task-wait incident, `adoscale.control.incidents.WAITS`).
Read-only, through the pool's `Compute` port (`describe`): it never changes anything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from adoscale.compute import Compute, EcsCompute
from adoscale.compute.ec2 import launch_progress
from adoscale.config import Config
from adoscale.handlers._control import BadEventError, load_config, pool_config
from adoscale.handlers._runtime import client
from adoscale.validation import one_line

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))

TaskArn = Annotated[str, Field(min_length=1, max_length=2048)]


class WaitEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    pool: Annotated[str, Field(min_length=1, max_length=256)]
    launched: list[TaskArn] = Field(max_length=1000)
    wait_rounds: StrictInt = Field(0, ge=0, le=100)
    task_wait_s: StrictInt = Field(10, ge=0, le=120)
    start_incident_open: bool = False  # the pass's: its launch was a probe inside a start-failure incident
    wait_incident_open: bool = False  # the pass's: the pool's task waits were failing when it launched


def compute(config: Config) -> Compute:
    """The pools' compute (one call site, for the composition root to take over)."""
    return EcsCompute.for_config(client("ecs"), config)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        try:
            request = parse(event=event, model=WaitEvent)
        except ValidationError as exc:
            raise BadEventError(one_line(exc, limit=5)) from None
        config = load_config()
        pool = pool_config(config, request.pool)
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    if pool.ec2 is not None:  # an EC2 pool: what was launched are instance ids
        pending, failed = launch_progress(client("ec2"), request.launched)
    else:
        tasks = {t.task_arn: t for t in compute(config).describe(pool.name, request.launched)}
        pending = sum(1 for t in tasks.values() if t.last_status not in ("RUNNING", "STOPPED"))
        failed = [
            {"task": arn, "reason": (t.stopped_reason or "unknown") if t is not None else "MISSING"}
            for arn in request.launched
            if (t := tasks.get(arn)) is None or (t.last_status == "STOPPED" and t.started_at is None)
        ]
    if failed:
        logger.warning("tasks failed to start", extra={"pool": pool.name, "failed": failed})
    return {
        "pool": pool.name,
        "launched": request.launched,
        "task_wait_s": request.task_wait_s,
        "pending": pending,
        "failed": failed,
        "wait_rounds": request.wait_rounds + 1,
        "start_incident_open": request.start_incident_open,
        "wait_incident_open": request.wait_incident_open,
    }
