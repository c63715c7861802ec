"""The state table: what adoscale learned about each instance at launch, keyed by instance id.

One typed record per instance (`InstanceRecord`), marshalled with boto3's own DynamoDB type
(de)serializers. A record's status moves registered → terminating → done; a done record expires
(`expires_at`, the table's TTL attribute) `DONE_TTL` after it was finished: the one place that TTL is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from adoscale.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INSTANCE_ID_PATTERN = r"^i-[0-9a-f]{8,17}$"
InstanceId = Annotated[str, Field(pattern=INSTANCE_ID_PATTERN)]

DONE_TTL = timedelta(days=7)
TTL_ATTRIBUTE = "expires_at"


class Status(StrEnum):
    REGISTERED = "registered"
    TERMINATING = "terminating"
    DONE = "done"


class InstanceRecord(BaseModel):
    """One instance. Launch fills the ADO identities; termination reads only this, never the tags."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)

    instance_id: InstanceId
    asg_name: str
    status: Status
    project: str | None = None
    environment_name: str | None = None
    environment_id: int | None = None
    pool_id: int | None = None
    vm_tags: str = ""
    launched_at: datetime | None = None
    vm_resource_id: int | None = None
    agent_id: int | None = None
    terminating_since: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    note: str | None = None
    expires_at: int | None = None

    @classmethod
    def finished(cls, instance_id: str, asg_name: str, now: datetime, note: str) -> InstanceRecord:
        """A done record written without a launch (terminate seen first): a late launch then changes nothing."""
        return cls(instance_id=instance_id, asg_name=asg_name, status=Status.DONE, note=note, expires_at=expiry(now))


def expiry(now: datetime) -> int:
    """The TTL of a finished record, in epoch seconds."""
    return int((now + DONE_TTL).timestamp())


@cache
def _codec() -> tuple[Any, Any]:
    # boto3 is imported on first use, not at import: it is a large part of a handler's cold start (aws.py).
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _item(values: dict[str, Any]) -> dict[str, Any]:
    serializer, _ = _codec()
    return {key: serializer.serialize(value) for key, value in values.items() if value is not None}


class StateTable:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def _key(self, instance_id: str) -> dict[str, Any]:
        return {"instance_id": {"S": instance_id}}

    def get(self, instance_id: str) -> InstanceRecord | None:
        response = self._db.get_item(TableName=self._table, Key=self._key(instance_id), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        _, deserializer = _codec()
        return InstanceRecord.model_validate({k: deserializer.deserialize(v) for k, v in item.items()})

    def recorded(self, instance_id: str) -> bool:
        """Did this deployment record the instance at launch? (The sweeper's proof that it was ours.)"""
        return self.get(instance_id) is not None

    def create(self, record: InstanceRecord) -> bool:
        """Write a new record; False if one exists already (a duplicate or late launch)."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_item(record.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(instance_id)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(self, instance_id: str, values: dict[str, Any]) -> None:
        plain = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in values.items()}
        plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in plain.items()}
        self._db.update_item(
            TableName=self._table,
            Key=self._key(instance_id),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in plain),
            ExpressionAttributeNames={f"#{k}": k for k in plain},
            ExpressionAttributeValues={f":{k}": _codec()[0].serialize(v) for k, v in plain.items()},
        )

    def start_terminating(self, instance_id: str, now: datetime) -> None:
        self._update(instance_id, {"status": Status.TERMINATING, "terminating_since": now, "attempts": 0})

    def record_failure(self, instance_id: str, attempts: int, error: str) -> None:
        self._update(instance_id, {"attempts": attempts, "last_error": error[:500]})

    def mark_done(self, instance_id: str, now: datetime, *, note: str | None = None) -> None:
        values: dict[str, Any] = {"status": Status.DONE, TTL_ATTRIBUTE: expiry(now)}
        if note is not None:
            values["note"] = note
        self._update(instance_id, values)
