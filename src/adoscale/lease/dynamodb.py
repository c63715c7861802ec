"""The lease in DynamoDB: one item per pool (`pool` string partition key) with `owner` and `expires_at`
(epoch seconds, also the table's TTL attribute, so abandoned items disappear by themselves).

Acquire is one conditional PutItem: it succeeds when the item is absent, already ours, or expired (its
`expires_at`, rounded up to the second, is at or before now less the skew margin: each holder writes its expiry
by its own clock, so a controller whose clock runs ahead by up to the margin still sees another's lease as held;
the price is that a crashed pass blocks its pool for the TTL plus the margin). Release is one conditional
DeleteItem on the owner; renew (the fencing check before each action) one conditional PutItem on the owner.
Each is a single request, so there is nothing to roll back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adoscale.aws import error_code
from adoscale.lease.base import LeaseHeld
from adoscale.transient import AwsUnavailableError, is_transient_aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITIONAL_FAILED = "ConditionalCheckFailedException"


_NAMES = {"#p": "pool", "#o": "owner", "#e": "expires_at"}


class DynamoLease:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        skew_margin_s: float = 0.0,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._clock = clock
        self._skew = skew_margin_s

    def _put(self, pool: str, owner: str, ttl_s: float, condition: str, values: dict[str, Any]) -> None:
        """Write the lease item (`owner` until now + `ttl_s`) if `condition` holds; a throttled or unavailable
        table is `AwsUnavailableError`, a failed condition the caller's `ClientError` to read."""
        from botocore.exceptions import ClientError

        now = self._clock().timestamp()
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pool": {"S": pool},
                    "owner": {"S": owner},
                    "expires_at": {"N": str(math.ceil(now + ttl_s))},
                },
                ConditionExpression=condition,
                # DynamoDB refuses a name the expression does not use: only those it names.
                ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k in condition},
                ExpressionAttributeValues={":owner": {"S": owner}, **values},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            code = error_code(exc)
            if code != CONDITIONAL_FAILED and is_transient_aws(exc):
                raise AwsUnavailableError(f"lease table {self._table}: {code}") from exc
            raise

    def acquire(self, pool: str, owner: str, ttl_s: float) -> LeaseHeld | None:
        from botocore.exceptions import ClientError

        # Taken over only `skew_margin_s` after its holder's own expiry, whatever this clock says.
        now = math.floor(self._clock().timestamp() - self._skew)
        try:
            self._put(
                pool, owner, ttl_s, "attribute_not_exists(#p) OR #o = :owner OR #e <= :now", {":now": {"N": str(now)}}
            )
        except ClientError as exc:
            if error_code(exc) == CONDITIONAL_FAILED:
                return _holder(exc.response.get("Item"))
            raise
        return None

    def release(self, pool: str, owner: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pool": {"S": pool}},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if error_code(exc) != CONDITIONAL_FAILED:
                raise
            # Not ours any more (expired and taken over): nothing to give back.

    def renew(self, pool: str, owner: str, ttl_s: float) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._put(pool, owner, ttl_s, "#o = :owner", {})
        except ClientError as exc:
            if error_code(exc) == CONDITIONAL_FAILED:
                return False  # taken over (or given back): this pass may no longer act
            raise
        return True


def _holder(item: Any) -> LeaseHeld:
    if not isinstance(item, dict):
        return LeaseHeld("unknown", None)
    owner = item.get("owner", {}).get("S", "unknown")
    expires = item.get("expires_at", {}).get("N")
    when = datetime.fromtimestamp(float(expires), UTC) if expires else None
    return LeaseHeld(str(owner), when)
