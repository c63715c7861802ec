"""Lambda entry `adoscale.handlers.lifecycle.handler`: Auto Scaling lifecycle events for Environment VMs.

Environment: `ADOSCALE_STATE_TABLE`, `AZP_URL`, the PAT (`AZP_TOKEN`, or `AZP_TOKEN_SECRET_ARN`, see
docs/configuration.md), optional `ADOSCALE_ALERT_TOPIC_ARN` and `ADOSCALE_HOOK_HEARTBEAT_SECONDS` (default
300). A malformed message is logged and acknowledged (never retried); only the transient errors of
`adoscale.transient` (ADO or AWS unavailable, retry later) reach SNS or EventBridge, which retry.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from adoscale.ado.client import AdoClient
from adoscale.config.settings import STATE_TABLE_ENV, URL_ENV
from adoscale.environments import (
    AutoScalingActions,
    Ec2Instances,
    HookTiming,
    LifecycleService,
    MalformedEventError,
    SnsAlerts,
    StateTable,
    parse,
)
from adoscale.handlers._runtime import SettingsError, aws_calls, client, deployment, pat, reject, required

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))


def _heartbeat_seconds() -> int:
    raw = deployment().hook_heartbeat_seconds or "300"
    if not raw.isdigit() or not 30 <= int(raw) <= 7200:  # Auto Scaling's own bounds for a heartbeat timeout
        raise SettingsError(f"ADOSCALE_HOOK_HEARTBEAT_SECONDS must be 30-7200 seconds, not {raw[:20]!r}")
    return int(raw)


def build_service(ado: AdoClient) -> LifecycleService:
    """The service on its boto3 adapters (one call site, for the composition root to take over)."""
    topic = deployment().alert_topic_arn
    return LifecycleService(
        ado,
        StateTable(client("dynamodb"), required(deployment().state_table, STATE_TABLE_ENV)),
        Ec2Instances(client("ec2")),
        AutoScalingActions(client("autoscaling")),
        lambda: datetime.now(UTC),
        alerts=SnsAlerts(client("sns"), topic) if topic else None,
        timing=HookTiming(heartbeat_s=_heartbeat_seconds()),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        events = parse(event)
    except MalformedEventError as exc:
        return reject(logger, str(exc))
    outcomes = []
    with aws_calls(), AdoClient(required(deployment().organization_url, URL_ENV), pat()) as ado:
        service = build_service(ado)
        for item in events:
            outcome = service.handle(item)  # RetryLaterError propagates: the trigger retries the delivery
            logger.info("lifecycle event handled", extra={"instance_id": outcome.instance_id, "action": outcome.action})
            outcomes.append({"instance_id": outcome.instance_id, "action": outcome.action, "detail": outcome.detail})
    return {"status": "ok", "outcomes": outcomes}
