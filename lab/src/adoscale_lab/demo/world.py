"""What the demo and the sandbox both set up: the ADO side (pools, each with its offline placeholder, and a
parallel-job limit, as a real organization has), the configuration naming the ECS world, and the fleet's view
of ECS through the controller's own adapter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adoscale.compute.ecs import EcsCompute
from adoscale.config import PoolConfig
from adoscale_lab.demo.aws import EcsWorld
from adoscale_lab.demo.fleet import FleetTask
from adoscale_lab.emulator import AdoModel

PLACEHOLDER = "adoscale-placeholder"


@dataclass(frozen=True, slots=True)
class DemoPool:
    name: str
    capabilities: dict[str, str]
    demands: tuple[str, ...]
    jobs: int
    max_agents: int


def create_ado_pools(model: AdoModel, pools: Iterable[DemoPool]) -> dict[str, int]:
    """Each pool with its placeholder (it keeps the pool open at zero: ADO queues jobs instead of failing
    them), and the organization's parallel-job limit: every real organization answers one (without it the
    emulator's resource-usage route answers 404 and every pass warns about it)."""
    pools = list(pools)
    ids = {p.name: model.create_pool(p.name) for p in pools}
    for pool in pools:
        model.register_agent(ids[pool.name], PLACEHOLDER, capabilities=dict(pool.capabilities), online=False)
    model.set_parallel_limit(sum(p.max_agents for p in pools))
    return ids


def config_text(world: EcsWorld, org_url: str, pools: Iterable[DemoPool], extra: Sequence[str] = ()) -> str:
    """A configuration for `pools` in `world`; `extra` are more top-level YAML lines (lease table, secrets)."""
    lines = [f"organization_url: {org_url}", *extra, "pools:"]
    for pool in pools:
        caps = ", ".join(f'"{k}": "{v}"' for k, v in pool.capabilities.items())
        lines += [
            f"  - name: {pool.name}",
            "    min_agents: 0",
            f"    max_agents: {pool.max_agents}",
            "    idle_timeout_seconds: 5",
            "    startup_timeout_seconds: 30",
            f"    capabilities: {{{caps}}}",
            "    ecs:",
            f"      cluster: {world.cluster}",
            f"      task_definition: {world.task_definition}",
            f"      container_name: {world.container_name}",
            f"      subnets: [{', '.join(world.subnets)}]",
            f"      security_groups: [{', '.join(world.security_groups)}]",
        ]
    return "\n".join(lines) + "\n"


class EcsTaskWorld:
    """The fleet's view of ECS: the pools' tasks through the same adapter the controller uses."""

    def __init__(self, compute: EcsCompute, pools: list[PoolConfig]) -> None:
        self._compute = compute
        self._pools = pools

    def fleet_tasks(self) -> Iterable[FleetTask]:
        for pool in self._pools:
            for task in self._compute.list_tasks(pool.name):
                yield FleetTask(
                    task_arn=task.task_arn,
                    task_id=task.task_id,
                    pool=pool.name,
                    created_at=task.created_at,
                    running=task.last_status not in ("STOPPED", "STOPPING", "DEPROVISIONING")
                    and task.desired_status != "STOPPED",
                )

    def task_exited(self, task_arn: str, reason: str) -> None:
        # Every pool runs in the one cluster, so any pool's placement can stop the task.
        self._compute.stop(self._pools[0].name, task_arn, reason)

    def running_tasks(self) -> int:
        return sum(1 for task in self.fleet_tasks() if task.running)
