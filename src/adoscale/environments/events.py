"""Auto Scaling notifications, as they arrive through SNS or EventBridge, parsed into one shape.

Accepted: Auto Scaling event notifications (`autoscaling:EC2_INSTANCE_LAUNCH` / `_TERMINATE`), lifecycle
hook notifications (`autoscaling:EC2_INSTANCE_LAUNCHING` / `_TERMINATING`), their EventBridge forms, and
test notifications (ignored). Anything else is malformed: `MalformedEventError` says what was wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MalformedEventError(ValueError):
    """The message cannot be understood; it is logged and dropped, never retried."""


class Kind(StrEnum):
    LAUNCH = "launch"
    TERMINATE = "terminate"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    kind: Kind
    instance_id: str
    asg_name: str
    hook_name: str | None = None  # present for lifecycle hook notifications: an action to complete
    action_token: str | None = None
    source: str = "sns"


_TRANSITIONS = {
    "autoscaling:EC2_INSTANCE_LAUNCH": (Kind.LAUNCH, False),
    "autoscaling:EC2_INSTANCE_TERMINATE": (Kind.TERMINATE, False),
    "autoscaling:EC2_INSTANCE_LAUNCHING": (Kind.LAUNCH, True),
    "autoscaling:EC2_INSTANCE_TERMINATING": (Kind.TERMINATE, True),
}
_DETAIL_TYPES = {
    "EC2 Instance-launch Lifecycle Action": (Kind.LAUNCH, True),
    "EC2 Instance-terminate Lifecycle Action": (Kind.TERMINATE, True),
    "EC2 Instance Launch Successful": (Kind.LAUNCH, False),
    "EC2 Instance Terminate Successful": (Kind.TERMINATE, False),
}
TEST_EVENT = "autoscaling:TEST_NOTIFICATION"


def _text(body: dict[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{where}: {key} missing or not a string")
    return value


def _from_autoscaling(body: dict[str, Any], hooked: bool, kind: Kind, source: str) -> LifecycleEvent:
    where = f"{source} message"
    instance = _text(body, "EC2InstanceId", where)
    if not instance.startswith("i-"):
        raise MalformedEventError(f"{where}: EC2InstanceId {instance!r} is not an instance id")
    return LifecycleEvent(
        kind=kind,
        instance_id=instance,
        asg_name=_text(body, "AutoScalingGroupName", where),
        hook_name=_text(body, "LifecycleHookName", where) if hooked else None,
        action_token=_text(body, "LifecycleActionToken", where) if hooked else None,
        source=source,
    )


def parse_message(body: Any, source: str = "sns") -> LifecycleEvent:
    """One Auto Scaling message (the JSON inside an SNS record, or an EventBridge `detail`)."""
    if not isinstance(body, dict):
        raise MalformedEventError(f"{source} message: expected a JSON object, got {type(body).__name__}")
    if body.get("Event") == TEST_EVENT:
        return LifecycleEvent(Kind.TEST, "", str(body.get("AutoScalingGroupName", "")), source=source)
    name = body.get("LifecycleTransition") if "LifecycleActionToken" in body else body.get("Event")
    if name not in _TRANSITIONS:
        raise MalformedEventError(f"{source} message: unknown or missing event {name!r}")
    kind, hooked = _TRANSITIONS[str(name)]
    return _from_autoscaling(body, hooked, kind, source)


def parse(event: Any) -> list[LifecycleEvent]:
    """Every Auto Scaling message in a Lambda event from SNS (Records) or EventBridge (detail-type)."""
    if not isinstance(event, dict):
        raise MalformedEventError(f"expected an SNS or EventBridge event object, got {type(event).__name__}")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list) or not records:
            raise MalformedEventError("SNS event: Records is empty or not a list")
        parsed: list[LifecycleEvent] = []
        for index, record in enumerate(records):
            sns = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(sns, dict) or not isinstance(sns.get("Message"), str):
                raise MalformedEventError(f"SNS event: Records[{index}].Sns.Message missing or not a string")
            try:
                body = json.loads(sns["Message"])
            except ValueError:
                raise MalformedEventError(f"SNS event: Records[{index}].Sns.Message is not JSON") from None
            parsed.append(parse_message(body, "sns"))
        return parsed
    if "detail-type" in event:
        if event.get("source") != "aws.autoscaling":
            raise MalformedEventError(f"EventBridge event: source {event.get('source')!r} is not aws.autoscaling")
        detail_type = event["detail-type"]
        if detail_type not in _DETAIL_TYPES:
            raise MalformedEventError(f"EventBridge event: unknown detail-type {detail_type!r}")
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise MalformedEventError("EventBridge event: detail missing or not an object")
        kind, hooked = _DETAIL_TYPES[detail_type]
        return [_from_autoscaling(detail, hooked, kind, "eventbridge")]
    raise MalformedEventError("neither an SNS event (Records) nor an EventBridge event (detail-type)")
