"""boto3 clients with adaptive retries and endpoints from the standard settings, and a call counter.

`AWS_ENDPOINT_URL` and `AWS_DEFAULT_REGION` are read by botocore itself, so the same code runs against AWS
and against `moto_server`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    # boto3-stubs (a dev dependency): types only, so the Lambda zip needs nothing new.
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

RETRY_ATTEMPTS = 8  # adaptive mode: client-side rate limiting on top of retries


@dataclass
class CallCounter:
    """Counts AWS API calls per (service, operation), through botocore's `before-call` event."""

    by_operation: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def reset(self) -> None:
        self.by_operation.clear()

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        def _count(model: Any, **_: Any) -> None:
            self.by_operation[(service, model.name)] += 1

        client.meta.events.register("before-call", _count)
        return client


@dataclass(frozen=True, slots=True)
class CallBudget:
    """Bounds on one AWS call, retries included: how long to connect, to wait for an answer, how many tries."""

    connect_s: float
    read_s: float
    attempts: int


@overload
def make_client(
    service: Literal["autoscaling"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> AutoScalingClient: ...
@overload
def make_client(
    service: Literal["cloudwatch"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> CloudWatchClient: ...
@overload
def make_client(
    service: Literal["dynamodb"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> DynamoDBClient: ...
@overload
def make_client(
    service: Literal["ec2"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> EC2Client: ...
@overload
def make_client(
    service: Literal["ecs"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> ECSClient: ...
@overload
def make_client(
    service: Literal["secretsmanager"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> SecretsManagerClient: ...
@overload
def make_client(
    service: Literal["sns"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> SNSClient: ...
@overload
def make_client(
    service: Literal["ssm"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> SSMClient: ...
@overload
def make_client(
    service: Literal["stepfunctions"],
    *,
    region: str | None = None,
    counter: CallCounter | None = None,
    budget: CallBudget | None = None,
) -> SFNClient: ...
@overload
def make_client(
    service: str, *, region: str | None = None, counter: CallCounter | None = None, budget: CallBudget | None = None
) -> Any: ...
def make_client(
    service: str, *, region: str | None = None, counter: CallCounter | None = None, budget: CallBudget | None = None
) -> Any:
    """A boto3 client, typed by service for the services adoscale calls (`boto3-stubs`)."""
    # boto3 is imported here, not at module import: it is a fifth of a handler's cold start, and the
    # decide handler never calls AWS.
    import boto3
    from botocore.config import Config as BotoConfig

    if budget is None:
        config = BotoConfig(retries={"mode": "adaptive", "max_attempts": RETRY_ATTEMPTS})
    else:
        config = BotoConfig(
            retries={"mode": "adaptive", "total_max_attempts": budget.attempts},
            connect_timeout=budget.connect_s,
            read_timeout=budget.read_s,
        )
    client = boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    if counter is not None:
        counter.attach(client)
    return client


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore `ClientError` ("ThrottlingException", ...), or "" for any other
    exception: the one place that reads botocore's error shape."""
    response: Any = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return str(error.get("Code", "")) if isinstance(error, dict) else ""
