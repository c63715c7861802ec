"""The sweeper: VM resources whose instance no longer exists are removed after a grace period."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adoscale.ado.client import AdoClient
from adoscale.config import EnvironmentConfig
from adoscale.environments.state import INSTANCE_ID_PATTERN

log = logging.getLogger("adoscale.environments.sweeper")
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
GONE = ("shutting-down", "terminated")


@dataclass(frozen=True, slots=True)
class SweepResult:
    project: str
    environment: str
    resource_id: int
    name: str
    removed: bool
    reason: str


def _instances_alive(ec2: Any, ids: list[str]) -> set[str]:
    alive: set[str] = set()
    for start in range(0, len(ids), 200):
        batch = ids[start : start + 200]
        pages = ec2.get_paginator("describe_instances").paginate(Filters=[{"Name": "instance-id", "Values": batch}])
        for page in pages:
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    if instance.get("State", {}).get("Name") not in GONE:
                        alive.add(instance["InstanceId"])
    return alive


def sweep(
    ado: AdoClient,
    ec2: Any,
    environments: Iterable[EnvironmentConfig],
    clock: Callable[[], datetime],
    *,
    dry_run: bool = False,
) -> list[SweepResult]:
    results: list[SweepResult] = []
    now = clock()
    for env_config in environments:
        env = ado.get_environment(env_config.project, env_config.name)
        resources = [r for r in ado.list_vm_resources(env_config.project, env.id) if _INSTANCE_ID.match(r.name)]
        if not resources:
            continue
        alive = _instances_alive(ec2, [r.name for r in resources])
        pool_id: int | None = None
        for resource in resources:
            if resource.name in alive:
                continue
            created = resource.created_on or now
            age = (now - created).total_seconds()
            if age < env_config.grace_seconds:
                results.append(
                    SweepResult(
                        env_config.project,
                        env.name,
                        resource.id,
                        resource.name,
                        False,
                        f"instance gone, within the {env_config.grace_seconds} s grace period",
                    )
                )
                continue
            if dry_run:
                results.append(
                    SweepResult(
                        env_config.project,
                        env.name,
                        resource.id,
                        resource.name,
                        False,
                        "instance gone: would remove (dry run)",
                    )
                )
                continue
            ado.delete_vm_resource(env_config.project, env.id, resource.id)
            if resource.agent is not None:
                pool_id = pool_id or ado.get_environment_pool(env_config.project, env.id).id
                ado.delete_agent(pool_id, resource.agent.id)
            log.info("removed VM resource %s (%s) from %s: its instance is gone", resource.id, resource.name, env.name)
            results.append(SweepResult(env_config.project, env.name, resource.id, resource.name, True, "instance gone"))
    return results
