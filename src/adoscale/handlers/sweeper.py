"""Lambda entry `adoscale.handlers.sweeper.handler`: on a schedule, remove VM resources whose instance
is gone. Environment: `AZP_URL`, `AZP_TOKEN` or `AZP_TOKEN_SECRET_ARN`, and `ADOSCALE_ENVIRONMENTS`
(JSON list of `{project, name, grace_seconds}`)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import TypeAdapter

from adoscale.ado.client import AdoClient
from adoscale.config import EnvironmentConfig
from adoscale.environments import sweep
from adoscale.handlers._runtime import client, pat, setting

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))
_environments = TypeAdapter(list[EnvironmentConfig])


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    environments = _environments.validate_python(json.loads(setting("ADOSCALE_ENVIRONMENTS")))
    dry_run = bool(event.get("dry_run", False)) if isinstance(event, dict) else False
    with AdoClient(setting("AZP_URL"), pat()) as ado:
        results = sweep(ado, client("ec2"), environments, lambda: datetime.now(UTC), dry_run=dry_run)
    removed = [r for r in results if r.removed]
    logger.info("sweep done", extra={"removed": len(removed), "examined": len(results)})
    return {"removed": [{"environment": r.environment, "name": r.name, "resource_id": r.resource_id} for r in removed]}
