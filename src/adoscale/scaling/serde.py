"""Snapshots and plans as JSON, for the Step Functions states between the Lambda handlers."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from adoscale.scaling.model import Plan, PoolSnapshot

_snapshot = TypeAdapter(PoolSnapshot)
_plan = TypeAdapter(Plan)


def snapshot_to_json(snapshot: PoolSnapshot) -> dict[str, Any]:
    data: dict[str, Any] = _snapshot.dump_python(snapshot, mode="json")
    return data


def snapshot_from_json(data: Any) -> PoolSnapshot:
    return _snapshot.validate_python(data)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = _plan.dump_python(plan, mode="json")
    data["empty"] = plan.empty
    return data


def plan_from_json(data: Any) -> Plan:
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "empty"}
    return _plan.validate_python(data)
