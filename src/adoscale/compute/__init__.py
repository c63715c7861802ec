"""Where agents run: the `Compute` port and its adapters, ECS Fargate and EC2 (one instance per job)."""

from adoscale.compute.base import LaunchResult, TaskInfo, task_id_of
from adoscale.compute.ec2 import Ec2Compute
from adoscale.compute.ecs import EcsCompute
from adoscale.compute.identity import POOL_TAG, STARTED_BY, pool_tag_value, started_by_for
from adoscale.ports import Compute

__all__ = [
    "POOL_TAG",
    "STARTED_BY",
    "Compute",
    "Ec2Compute",
    "EcsCompute",
    "LaunchResult",
    "TaskInfo",
    "pool_tag_value",
    "started_by_for",
    "task_id_of",
]
