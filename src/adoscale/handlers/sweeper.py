"""Lambda entry `adoscale.handlers.sweeper.handler`: on a schedule, remove VM resources whose instance is
gone. Environment: `AZP_URL`, the PAT (see docs/configuration.md), and the Environments to sweep:
`ADOSCALE_ENVIRONMENTS` (a JSON list of `{project, name, grace_seconds}`), else the configuration's
`environments` (`ADOSCALE_CONFIG` or `ADOSCALE_CONFIG_PARAMETER`). `ADOSCALE_STATE_TABLE`, the lifecycle
function's state table: an instance EC2 no longer knows is removed only if this deployment recorded it.

The event is the schedule's (ignored), or `{"dry_run": true}` to report without removing. Anything else is
rejected (logged and acknowledged); only transient errors reach the trigger.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import parse as powertools_parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, StrictBool, TypeAdapter, ValidationError

from adoscale.ado.client import AdoClient
from adoscale.config import MAX_POOLS, EnvironmentConfig
from adoscale.config.settings import ENVIRONMENTS_ENV, URL_ENV
from adoscale.environments import Ec2Instances, StateTable, sweep
from adoscale.handlers._runtime import (
    SettingsError,
    aws_calls,
    client,
    deployment,
    has_settings,
    pat,
    reject,
    required,
    settings,
)
from adoscale.validation import one_line

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))
_environments: TypeAdapter[list[EnvironmentConfig]] = TypeAdapter(list[EnvironmentConfig])


class SweepRequest(BaseModel):
    """A scheduled event carries many keys, all ignored; a manual invocation may ask for a dry run."""

    model_config = ConfigDict(extra="ignore")
    dry_run: StrictBool = False


def environments() -> list[EnvironmentConfig]:
    raw = deployment().environments
    if raw is None and has_settings():
        return list(settings().environments)
    try:
        listed = _environments.validate_json(raw or "")
    except ValidationError as exc:
        raise SettingsError(f"{ENVIRONMENTS_ENV}: {one_line(exc)}") from None
    if len(listed) > MAX_POOLS:
        raise SettingsError(f"{ENVIRONMENTS_ENV}: at most {MAX_POOLS} Environments")
    return listed


@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = powertools_parse(event=event, model=SweepRequest)
    except ValidationError as exc:
        return reject(logger, f"sweep request: {one_line(exc)}")
    targets = environments()
    with aws_calls(), AdoClient(required(deployment().organization_url, URL_ENV), pat()) as ado:
        table = deployment().state_table
        records = StateTable(client("dynamodb"), table) if table else None
        results = sweep(
            ado,
            Ec2Instances(client("ec2")),
            targets,
            lambda: datetime.now(UTC),
            records=records,
            dry_run=request.dry_run,
        )
    removed = [r for r in results if r.removed]
    failed = [r for r in results if r.error]
    logger.info("sweep done", extra={"removed": len(removed), "examined": len(results), "failed": len(failed)})
    for r in failed:
        logger.error("environment not swept", extra={"environment": f"{r.project}/{r.environment}", "reason": r.reason})
    return {
        "status": "ok" if not failed else "partial",
        "removed": [{"environment": r.environment, "name": r.name, "resource_id": r.resource_id} for r in removed],
        "left": [{"environment": r.environment, "name": r.name, "reason": r.reason} for r in results if not r.removed],
    }
