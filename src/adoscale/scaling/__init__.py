"""The scaling engine: pure decision logic from a pool snapshot and its policy to a plan."""

from adoscale.scaling.engine import Classification, classify, is_placeholder, is_task_agent_name, plan
from adoscale.scaling.model import (
    AgentView,
    DeleteAgent,
    Drain,
    EnableAgent,
    Launch,
    Plan,
    PoolPolicy,
    PoolSnapshot,
    StopTask,
    TaskStatus,
    TaskView,
)

__all__ = [
    "AgentView",
    "Classification",
    "DeleteAgent",
    "Drain",
    "EnableAgent",
    "Launch",
    "Plan",
    "PoolPolicy",
    "PoolSnapshot",
    "StopTask",
    "TaskStatus",
    "TaskView",
    "classify",
    "is_placeholder",
    "is_task_agent_name",
    "plan",
]
