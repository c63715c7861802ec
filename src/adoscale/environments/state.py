"""The state table: what adoscale learned about each instance at launch, keyed by instance id.

Items: `instance_id`, `project`, `environment_name`, `environment_id`, `vm_tags`, `asg_name`,
`launched_at`, optional `vm_resource_id`, `agent_id`, `pool_id`, `status` (registered | terminating |
done), `attempts`, `terminating_since`, and `expires_at` (DynamoDB TTL, set when done).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

DONE_TTL_SECONDS = 7 * 86400


class StateTable:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def get(self, instance_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._table, Key={"instance_id": {"S": instance_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _plain(item) if item else None

    def create(self, item: dict[str, Any]) -> bool:
        """Write a new item; False if one exists already (a duplicate or late launch)."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_typed(item),
                ConditionExpression="attribute_not_exists(instance_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def update(self, instance_id: str, **values: Any) -> None:
        names = {f"#{k}": k for k in values}
        exprs = ", ".join(f"#{k} = :{k}" for k in values)
        self._db.update_item(
            TableName=self._table,
            Key={"instance_id": {"S": instance_id}},
            UpdateExpression=f"SET {exprs}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{k}": _value(v) for k, v in values.items()},
        )

    def mark_done(self, instance_id: str, now: datetime, **values: Any) -> None:
        self.update(instance_id, status="done", expires_at=int(now.timestamp()) + DONE_TTL_SECONDS, **values)

    def scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._db.scan(**kwargs)
            items += [_plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_value(v) for v in value]}
    return {"S": str(value)}


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in item.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    def convert(value: dict[str, Any]) -> Any:
        if "S" in value:
            return value["S"]
        if "N" in value:
            number = float(value["N"])
            return int(number) if number.is_integer() else number
        if "BOOL" in value:
            return value["BOOL"]
        if "L" in value:
            return [convert(v) for v in value["L"]]
        return None

    return {k: convert(v) for k, v in item.items()}
