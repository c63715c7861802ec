"""Auto Scaling notifications, as they arrive through SNS or EventBridge, parsed into one shape.

Parsed by pydantic models that extend powertools' SNS and EventBridge event models (its parser), so the
envelope and the Auto Scaling message inside it are checked in one pass: every field typed and bounded
(instance ids, action tokens, hook and group names, at most `MAX_RECORDS` records; JSON nesting is bounded
by pydantic's parser). Accepted: lifecycle hook notifications (`autoscaling:EC2_INSTANCE_LAUNCHING` /
`_TERMINATING`), event notifications (`autoscaling:EC2_INSTANCE_LAUNCH` / `_TERMINATE`), their EventBridge
forms, and test notifications (ignored). Anything else raises `MalformedEventError` saying what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from aws_lambda_powertools.utilities.parser import parse as powertools_parse
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    SnsModel,
    SnsNotificationModel,
    SnsRecordModel,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Json,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from adoscale.environments.state import InstanceId
from adoscale.validation import one_line

MAX_RECORDS = 10  # SNS delivers one record per invocation; anything near this is not from SNS
TEST_EVENT = "autoscaling:TEST_NOTIFICATION"

# botocore's own constraints for CompleteLifecycleAction: a token is a UUID; names as below.
ActionToken = Annotated[
    str, Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
]
HookName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9\-_/]+$")]
GroupName = Annotated[str, Field(min_length=1, max_length=255)]


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


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class HookMessage(_Message):
    """A lifecycle hook notification: an instance waits until its action is completed."""

    LifecycleTransition: Literal["autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"]
    LifecycleHookName: HookName
    LifecycleActionToken: ActionToken
    AutoScalingGroupName: GroupName
    EC2InstanceId: InstanceId

    def event(self, source: str) -> LifecycleEvent:
        kind = Kind.LAUNCH if self.LifecycleTransition.endswith("LAUNCHING") else Kind.TERMINATE
        return LifecycleEvent(
            kind,
            self.EC2InstanceId,
            self.AutoScalingGroupName,
            self.LifecycleHookName,
            self.LifecycleActionToken,
            source,
        )


class InstanceNotification(_Message):
    """An event notification: the instance was launched or terminated; nothing waits."""

    Event: Literal["autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_TERMINATE"]
    AutoScalingGroupName: GroupName
    EC2InstanceId: InstanceId

    def event(self, source: str) -> LifecycleEvent:
        kind = Kind.LAUNCH if self.Event.endswith("LAUNCH") else Kind.TERMINATE
        return LifecycleEvent(kind, self.EC2InstanceId, self.AutoScalingGroupName, source=source)


class TestNotification(_Message):
    """Sent once when a notification target is configured."""

    Event: Literal["autoscaling:TEST_NOTIFICATION"]
    AutoScalingGroupName: GroupName | None = None

    def event(self, source: str) -> LifecycleEvent:
        return LifecycleEvent(Kind.TEST, "", self.AutoScalingGroupName or "", source=source)


def _message_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "LifecycleTransition" in value or "LifecycleActionToken" in value:
        return "hook"
    return "test" if value.get("Event") == TEST_EVENT else "notification"


AutoScalingMessage = Annotated[
    Annotated[HookMessage, Tag("hook")]
    | Annotated[InstanceNotification, Tag("notification")]
    | Annotated[TestNotification, Tag("test")],
    Discriminator(
        _message_kind,
        custom_error_type="not_an_object",
        custom_error_message="expected an Auto Scaling notification (a JSON object)",
    ),
]


# -- SNS: powertools' models, with the message typed and the records bounded -------------------------


class AutoScalingSnsNotification(SnsNotificationModel):
    Message: Json[AutoScalingMessage]  # type: ignore[assignment]


class AutoScalingSnsRecord(SnsRecordModel):
    Sns: AutoScalingSnsNotification


class AutoScalingSns(SnsModel):
    Records: list[AutoScalingSnsRecord] = Field(min_length=1, max_length=MAX_RECORDS)  # type: ignore[assignment]


# -- EventBridge: the detail-type decides what the detail is -----------------------------------------

_HOOK_TYPES = {
    "EC2 Instance-launch Lifecycle Action": "autoscaling:EC2_INSTANCE_LAUNCHING",
    "EC2 Instance-terminate Lifecycle Action": "autoscaling:EC2_INSTANCE_TERMINATING",
}
_NOTIFICATION_TYPES = {
    "EC2 Instance Launch Successful": Kind.LAUNCH,
    "EC2 Instance Terminate Successful": Kind.TERMINATE,
}


class InstanceDetail(_Message):
    AutoScalingGroupName: GroupName
    EC2InstanceId: InstanceId


class LifecycleActionEvent(EventBridgeModel):
    source: Literal["aws.autoscaling"]
    detail_type: Literal["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"] = Field(
        alias="detail-type"
    )
    detail: HookMessage

    @model_validator(mode="after")
    def _consistent(self) -> LifecycleActionEvent:
        if _HOOK_TYPES[self.detail_type] != self.detail.LifecycleTransition:
            raise ValueError(f"detail-type {self.detail_type!r} does not match {self.detail.LifecycleTransition}")
        return self

    def event(self) -> LifecycleEvent:
        return self.detail.event("eventbridge")


class InstanceChangeEvent(EventBridgeModel):
    source: Literal["aws.autoscaling"]
    detail_type: Literal["EC2 Instance Launch Successful", "EC2 Instance Terminate Successful"] = Field(
        alias="detail-type"
    )
    detail: InstanceDetail

    def event(self) -> LifecycleEvent:
        kind = _NOTIFICATION_TYPES[self.detail_type]
        return LifecycleEvent(kind, self.detail.EC2InstanceId, self.detail.AutoScalingGroupName, source="eventbridge")


def _detail_kind(value: Any) -> str | None:
    detail_type = value.get("detail-type") if isinstance(value, dict) else None
    if not isinstance(detail_type, str):
        return None
    return "hook" if detail_type in _HOOK_TYPES else "change" if detail_type in _NOTIFICATION_TYPES else "unknown"


class _UnknownDetailType(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        # Not quoted: hostile input never reaches a log line, and the PAT is not read (so not yet registered
        # for redaction) before an event is accepted.
        known = ", ".join(sorted({*_HOOK_TYPES, *_NOTIFICATION_TYPES}))
        raise ValueError(
            f"unknown detail-type ({len(str(value.get('detail-type')))} characters; expected one of: {known})"
        )


AutoScalingEventBridge = Annotated[
    Annotated[LifecycleActionEvent, Tag("hook")]
    | Annotated[InstanceChangeEvent, Tag("change")]
    | Annotated[_UnknownDetailType, Tag("unknown")],
    Discriminator(
        _detail_kind,
        custom_error_type="detail_type",
        custom_error_message="detail-type missing or not a string",
    ),
]
_EVENTBRIDGE: TypeAdapter[LifecycleActionEvent | InstanceChangeEvent | _UnknownDetailType] = TypeAdapter(
    AutoScalingEventBridge
)
_MESSAGE: TypeAdapter[HookMessage | InstanceNotification | TestNotification] = TypeAdapter(AutoScalingMessage)


def parse_message(body: Any, source: str = "sns") -> LifecycleEvent:
    """One Auto Scaling message (the JSON inside an SNS record, or an EventBridge `detail`)."""
    try:
        return _MESSAGE.validate_python(body).event(source)
    except ValidationError as exc:
        raise MalformedEventError(f"{source} message: {one_line(exc)}") from None


def parse(event: Any) -> list[LifecycleEvent]:
    """Every Auto Scaling message in a Lambda event from SNS (Records) or EventBridge (detail-type)."""
    if not isinstance(event, dict):
        raise MalformedEventError(f"expected an SNS or EventBridge event object, got {type(event).__name__}")
    try:
        if "Records" in event:
            sns = powertools_parse(event=event, model=AutoScalingSns)
            return [record.Sns.Message.event("sns") for record in sns.Records]
        if "detail-type" in event:
            # powertools caches a TypeAdapter given as the model; _UnknownDetailType never validates
            bridge = cast(
                "LifecycleActionEvent | InstanceChangeEvent",
                powertools_parse(event=event, model=cast(Any, _EVENTBRIDGE)),
            )
            return [bridge.event()]
    except ValidationError as exc:
        where = "SNS event" if "Records" in event else "EventBridge event"
        raise MalformedEventError(f"{where}: {one_line(exc)}") from None
    except TypeError:
        # powertools' SNS model checks some fields in a "before" validator that raises TypeError (not a
        # validation error) on a record whose fields are not an object: found by tests/hostile.
        where = "SNS event" if "Records" in event else "EventBridge event"
        raise MalformedEventError(f"{where}: a record is not shaped like one") from None
    raise MalformedEventError("neither an SNS event (Records) nor an EventBridge event (detail-type)")
