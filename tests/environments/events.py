"""Real-shaped Auto Scaling events (fixtures/*.json: SNS and EventBridge deliveries as AWS sends them), and
builders that wrap a message in the same envelopes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("fixtures")


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def all_fixtures() -> dict[str, dict[str, Any]]:
    return {path.stem: fixture(path.stem) for path in sorted(FIXTURES.glob("*.json"))}


def sns_event(message: Any) -> dict[str, Any]:
    """`message` (JSON-encoded unless already a string) in the SNS envelope of a real delivery."""
    event = copy.deepcopy(fixture("sns-launching-hook"))
    event["Records"][0]["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
    return event


def eventbridge_event(detail_type: Any, detail: Any, source: Any = "aws.autoscaling") -> dict[str, Any]:
    event = copy.deepcopy(fixture("eventbridge-terminate-action"))
    event.update({"detail-type": detail_type, "detail": detail, "source": source})
    return event


class LambdaContext:
    """What powertools' `inject_lambda_context` reads from the real context object."""

    function_name = "adoscale-lifecycle"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:adoscale-lifecycle"
    aws_request_id = "req-1"
