"""History in the lease table: the item `history#<pool>` beside the pool's lease item. Read and written by
the pass that holds the lease, so a plain GetItem/PutItem pair is safe.

Times are epoch seconds (the arrivals whole seconds, the running jobs' assign times to the millisecond), and
the durations and start-ups whole seconds, but the marks' stamps, which are compared for equality and kept
exactly. An item written before an attribute existed loads with that part empty, but the agents counted
(`started_agents`), which load as not kept (None: the agents' mark decides, as it did when the item was written).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adoscale.history.base import (
    DURATIONS_KEPT,
    STARTED_KEPT,
    STARTUPS_KEPT,
    HistoryCorruptError,
    HistoryRecord,
    Watermark,
)

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
                running={
                    int(rid): datetime.fromtimestamp(float(n["N"]), UTC)
                    for rid, n in (_typed(item, "running", "M") or {}).items()
                },
                durations=_load_seconds(item, "durations", DURATIONS_KEPT),
                finished_counted=_mark(item, "finished_counted"),
                startups=_load_seconds(item, "startups", STARTUPS_KEPT),
                started_agents=_load_ids(item, "started_agents", STARTED_KEPT),
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
        # The running jobs by request id (a map's keys are strings), their assign times to the millisecond (a
        # duration is measured from them: truncated to the second, it came out up to a second long); the
        # durations oldest first.
        item["running"] = {"M": {str(rid): {"N": f"{at.timestamp():.3f}"} for rid, at in record.running.items()}}
        item["durations"] = _save_seconds(record.durations, DURATIONS_KEPT)
        # The agents' start-ups likewise, whole seconds, oldest first.
        item["startups"] = _save_seconds(record.startups, STARTUPS_KEPT)
        if record.started_agents is not None:
            # A list, not a number set: DynamoDB has no empty set, and none counted (kept) is not "not kept".
            ids = sorted(record.started_agents)[-STARTED_KEPT:]
            item["started_agents"] = {"L": [{"N": str(aid)} for aid in ids]}
        marks = (
            ("jobs_counted", record.jobs_counted),
            ("agents_counted", record.agents_counted),
            ("finished_counted", record.finished_counted),
        )
        for name, mark in marks:
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


def _typed(item: dict[str, Any], name: str, kind: str) -> Any:
    """The value of attribute `name`, which must be of DynamoDB type `kind` (KeyError otherwise); None when the
    item has no such attribute (an item written before it was kept)."""
    return item[name][kind] if name in item else None


def _load_seconds(item: dict[str, Any], name: str, kept: int) -> list[float]:
    """A list of whole seconds (the durations, the start-ups), the newest `kept`; empty when the item has none."""
    return [_seconds(n["N"]) for n in _typed(item, name, "L") or []][-kept:]


def _load_ids(item: dict[str, Any], name: str, kept: int) -> frozenset[int] | None:
    """A list of ids (whole numbers), the highest `kept`; None when the item has none (written before it was kept)."""
    listed = _typed(item, name, "L")
    if listed is None:
        return None
    return frozenset(sorted(int(n["N"]) for n in listed)[-kept:])


def _save_seconds(seconds: list[float], kept: int) -> dict[str, Any]:
    """The newest `kept` of `seconds`, oldest first, as a DynamoDB list of whole seconds."""
    return {"L": [{"N": f"{value:.0f}"} for value in seconds[-kept:]]}


def _seconds(text: str) -> float:
    seconds = float(text)
    if not 0.0 <= seconds < float("inf"):
        raise ValueError("not a duration")
    return seconds
