"""Lambda entry `adoscale.handlers.lifecycle.handler`: Auto Scaling lifecycle events for Environment VMs.

Environment: `ADOSCALE_STATE_TABLE`, `AZP_URL`, `AZP_TOKEN` or `AZP_TOKEN_SECRET_ARN`, optional
`ADOSCALE_ALERT_TOPIC_ARN` and `ADOSCALE_HOOK_HEARTBEAT_SECONDS` (default 300). A malformed message is
logged and acknowledged (never retried); an ADO outage raises, so that SNS or EventBridge retries.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.ado.client import AdoClient
from adoscale.environments import HookTiming, LifecycleService, MalformedEventError, StateTable, parse
from adoscale.handlers._runtime import client, pat, setting

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


def build_service(ado: AdoClient) -> LifecycleService:
    return LifecycleService(
        ado,
        StateTable(client("dynamodb"), setting("ADOSCALE_STATE_TABLE")),
        client("ec2"),
        client("autoscaling"),
        lambda: datetime.now(UTC),
        sns=client("sns"),
        alert_topic_arn=os.environ.get("ADOSCALE_ALERT_TOPIC_ARN"),
        timing=HookTiming(heartbeat_s=int(os.environ.get("ADOSCALE_HOOK_HEARTBEAT_SECONDS", "300"))),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        events = parse(event)
    except MalformedEventError as exc:
        logger.error("malformed lifecycle event dropped", extra={"reason": str(exc)})  # noqa: TRY400 - no traceback for bad input
        return {"status": "rejected", "reason": str(exc)}
    outcomes = []
    with AdoClient(setting("AZP_URL"), pat()) as ado:
        service = build_service(ado)
        for item in events:
            outcome = service.handle(item)  # RetryLaterError propagates: the trigger retries the delivery
            logger.info("lifecycle event handled", extra={"instance_id": outcome.instance_id, "action": outcome.action})
            outcomes.append({"instance_id": outcome.instance_id, "action": outcome.action, "detail": outcome.detail})
    return {"status": "ok", "outcomes": outcomes}
