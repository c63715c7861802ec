"""Where agents run: the `Compute` port and its ECS Fargate adapter."""

from adoscale.compute.base import LaunchResult, TaskInfo, task_id_of
from adoscale.compute.ecs import EcsCompute
from adoscale.compute.identity import POOL_TAG, STARTED_BY, pool_tag_value, started_by_for
from adoscale.ports import Compute

__all__ = [
    "POOL_TAG",
    "STARTED_BY",
    "Compute",
    "EcsCompute",
    "LaunchResult",
    "TaskInfo",
    "pool_tag_value",
    "started_by_for",
    "task_id_of",
]
