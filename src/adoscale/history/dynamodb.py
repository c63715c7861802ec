"""History in the lease table: the item `history#<pool>` beside the pool's lease item. Read and written by
the pass that holds the lease, so a plain GetItem/PutItem pair is safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adoscale.history.base import HistoryCorruptError, HistoryRecord, Watermark

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "history#"


class DynamoHistory:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def load(self, pool: str) -> HistoryRecord:
        item = self._db.get_item(TableName=self._table, Key={"pool": {"S": PREFIX + pool}}).get("Item")
        if not item:
            return HistoryRecord()
        try:
            last = item.get("last_pass", {}).get("N")
            return HistoryRecord(
                arrivals=[datetime.fromtimestamp(int(n["N"]), UTC) for n in item.get("arrivals", {}).get("L", [])],
                max_request_id=int(item.get("max_request_id", {}).get("N", "0")),
                idle_day=str(item.get("idle_day", {}).get("S", "")),
                idle_seconds=float(item.get("idle_seconds", {}).get("N", "0")),
                last_pass=datetime.fromtimestamp(float(last), UTC) if last else None,
                jobs_counted=_mark(item, "jobs_counted"),
                agents_counted=_mark(item, "agents_counted"),
            )
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            # Which attribute, not its value: a damaged item may hold anything.
            raise HistoryCorruptError(f"history item {PREFIX}{pool} is unreadable ({type(exc).__name__})") from None

    def save(self, pool: str, record: HistoryRecord) -> None:
        item: dict[str, Any] = {
            "pool": {"S": PREFIX + pool},
            "max_request_id": {"N": str(record.max_request_id)},
            "idle_day": {"S": record.idle_day},
            "idle_seconds": {"N": f"{record.idle_seconds:.0f}"},
        }
        # A list, not a number set: ten jobs of one pipeline queued in the same second are ten arrivals.
        item["arrivals"] = {"L": [{"N": str(int(t.timestamp()))} for t in sorted(record.arrivals)]}
        if record.last_pass is not None:
            item["last_pass"] = {"N": f"{record.last_pass.timestamp():.0f}"}
        for name, mark in (("jobs_counted", record.jobs_counted), ("agents_counted", record.agents_counted)):
            if mark.at is not None:
                # The service's stamp exactly (ISO text, to the microsecond): a mark compares equal stamps.
                item[f"{name}_at"] = {"S": mark.at.isoformat()}
                item[f"{name}_ids"] = {"L": [{"N": str(key)} for key in mark.ids]}
        self._db.put_item(TableName=self._table, Item=item)


def _mark(item: dict[str, Any], name: str) -> Watermark:
    at = item.get(f"{name}_at", {}).get("S")
    if not at:
        return Watermark()
    stamp = datetime.fromisoformat(at)
    if stamp.tzinfo is None:
        raise ValueError("naive")
    return Watermark(stamp, tuple(int(n["N"]) for n in item.get(f"{name}_ids", {}).get("L", [])))
