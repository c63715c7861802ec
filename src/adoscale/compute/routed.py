"""One `Compute` for a configuration whose pools run on different services: each call goes to the adapter of
the pool's placement (`ecs:` or `ec2:`); `for_pool` is the composition root's `ComputeFor` (`adoscale.bootstrap`).
The clients are made only for placements some pool uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adoscale.compute.base import LaunchResult, TaskInfo
from adoscale.compute.ec2 import Ec2Compute
from adoscale.compute.ecs import EcsCompute
from adoscale.config import Config, PoolConfig
from adoscale.ports import Compute


class RoutedCompute:
    """The `Compute` port over several adapters, by pool name."""

    def __init__(self, routes: Mapping[str, Compute]) -> None:
        self._routes = dict(routes)

    @classmethod
    def for_config(cls, make_client: Callable[[str], Any], config: Config) -> RoutedCompute:
        routes: dict[str, Compute] = {}
        if any(pool.ecs is not None for pool in config.pools):
            ecs = EcsCompute.for_config(make_client("ecs"), config)
            routes.update({pool.name: ecs for pool in config.pools if pool.ecs is not None})
        if any(pool.ec2 is not None for pool in config.pools):
            ec2 = Ec2Compute.for_config(make_client("ec2"), config)
            routes.update({pool.name: ec2 for pool in config.pools if pool.ec2 is not None})
        return cls(routes)

    def _route(self, pool: str) -> Compute:
        try:
            return self._routes[pool]
        except KeyError:
            raise KeyError(f"no placement configured for pool {pool!r}") from None

    def for_pool(self, pool: PoolConfig) -> Compute:
        """The adapter of a pool (`adoscale.ports.ComputeFor`)."""
        return self._route(pool.name)

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        return self._route(pool).launch(pool, count, token)

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        return self._route(pool).list_tasks(pool)

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        return self._route(pool).describe(pool, task_arns)

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        self._route(pool).stop(pool, task_arn, reason)
