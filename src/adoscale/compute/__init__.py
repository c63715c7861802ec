"""Where agents run: the `Compute` port and its ECS Fargate adapter."""

from adoscale.compute.base import POOL_TAG, STARTED_BY, Compute, LaunchResult, TaskInfo, started_by_for, task_id_of
from adoscale.compute.ecs import EcsCompute

__all__ = [
    "POOL_TAG",
    "STARTED_BY",
    "Compute",
    "EcsCompute",
    "LaunchResult",
    "TaskInfo",
    "started_by_for",
    "task_id_of",
]
