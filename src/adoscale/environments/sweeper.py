"""The sweeper: VM resources whose instance is provably gone are removed after a grace period.

"Not returned by DescribeInstances here" does not prove an instance gone: it may run in another region or
account (a sweep in us-east-1 once removed the registrations of VMs running in eu-west-1). An instance is
gone only when this region reports it `shutting-down`/`terminated` (EC2 keeps terminated instances
visible for about an hour), or when this deployment recorded it at launch (the state table, written by the
lifecycle function in this region) and EC2 no longer knows it. Anything else is left and reported. One
Environment that cannot be read (missing, renamed, refused) is reported and the others are still swept; a
refused PAT, or ADO unavailable, stops the sweep (the trigger retries a transient failure).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from adoscale.ado.client import AdoClient
from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.config import EnvironmentConfig
from adoscale.environments.ports import Instances
from adoscale.environments.state import INSTANCE_ID_PATTERN
from adoscale.transient import TRANSIENT_ERRORS

log = logging.getLogger("adoscale.environments.sweeper")
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
GONE = ("shutting-down", "terminated")
_FATAL: tuple[type[Exception], ...] = (AdoAuthError, *TRANSIENT_ERRORS)  # no Environment could be swept


class LaunchRecords(Protocol):
    """What this deployment recorded at launch (`StateTable`): was this instance one of ours?"""

    def recorded(self, instance_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SweepResult:
    project: str
    environment: str
    resource_id: int  # 0 when the Environment itself could not be swept
    name: str
    removed: bool
    reason: str
    error: bool = False  # the Environment could not be read: nothing of it was examined


def _why_gone(instance_id: str, states: dict[str, str], records: LaunchRecords | None, region: str) -> str | None:
    """Why the instance is provably gone, or None when it is not (alive, or unknown here)."""
    state = states.get(instance_id)
    if state in GONE:
        return f"instance {state} in {region}"
    if state is None and records is not None and records.recorded(instance_id):
        return f"instance recorded at launch in {region} no longer exists"
    return None


def sweep(
    ado: AdoClient,
    instances: Instances,
    environments: Iterable[EnvironmentConfig],
    clock: Callable[[], datetime],
    *,
    records: LaunchRecords | None = None,
    dry_run: bool = False,
) -> list[SweepResult]:
    """Sweep each Environment; without `records`, only instances this region reports terminated count."""
    results: list[SweepResult] = []
    for env_config in environments:
        try:
            results += _sweep_one(ado, instances, env_config, clock(), records, dry_run)
        except _FATAL:
            raise  # a refused PAT, or ADO down: no Environment can be swept; fail visibly (retried), once
        except AdoError as exc:
            log.warning("Environment %s/%s not swept: %s", env_config.project, env_config.name, exc)
            results.append(
                SweepResult(env_config.project, env_config.name, 0, "", False, f"not swept: {exc}", error=True)
            )
    return results


def _sweep_one(
    ado: AdoClient,
    instances: Instances,
    env_config: EnvironmentConfig,
    now: datetime,
    records: LaunchRecords | None,
    dry_run: bool,
) -> list[SweepResult]:
    env = ado.get_environment(env_config.project, env_config.name)
    resources = [r for r in ado.list_vm_resources(env_config.project, env.id) if _INSTANCE_ID.match(r.name)]
    if not resources:
        return []
    region = instances.region
    states = instances.states([r.name for r in resources])
    results: list[SweepResult] = []
    pool_id: int | None = None
    for resource in resources:
        state = states.get(resource.name)
        if state is not None and state not in GONE:
            continue  # running (or pending, stopped...): nothing to say
        gone = _why_gone(resource.name, states, records, region)

        def result(removed: bool, reason: str, resource: Any = resource) -> SweepResult:
            return SweepResult(env_config.project, env.name, resource.id, resource.name, removed, reason)

        if gone is None:
            results.append(result(False, f"not found in {region} and not recorded by this deployment: left"))
            continue
        age = (now - (resource.created_on or now)).total_seconds()
        if age < env_config.grace_seconds:
            results.append(result(False, f"{gone}, within the {env_config.grace_seconds} s grace period"))
        elif dry_run:
            results.append(result(False, f"{gone}: would remove (dry run)"))
        else:
            ado.delete_vm_resource(env_config.project, env.id, resource.id)
            if resource.agent is not None:
                pool_id = pool_id or ado.get_environment_pool(env_config.project, env.id).id
                ado.delete_agent(pool_id, resource.agent.id)
            log.info("removed VM resource %s (%s) from %s: %s", resource.id, resource.name, env.name, gone)
            results.append(result(True, gone))
    return results
