"""Environments and their VM resources: a hidden deployment pool per Environment, an agent per VM."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable

from adoscale_lab.emulator.entities import Clock, Environment, VmResource
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.pools import PoolsAndAgents
from adoscale_lab.emulator.projects import Projects

_ENV = "Microsoft.Azure.Pipelines.Environments.WebApi."

# Registers an online agent in a pool and lets it take waiting work: the model passes its own
# `register_agent`, so a VM's agent is assigned jobs like any other without this part knowing jobs.
RegisterAgent = Callable[[int, str, bool], int]


class Environments:
    def __init__(
        self,
        lock: threading.RLock,
        clock: Clock,
        pools: PoolsAndAgents,
        projects: Projects,
        register_agent: RegisterAgent,
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._pools = pools
        self._projects = projects
        self._register_agent = register_agent
        self._environments: dict[int, Environment] = {}
        self._environment_ids = itertools.count(1)
        self._resource_ids = itertools.count(100)  # VM resource ids are their own sequence

    def create_environment(self, project: str, name: str, *, description: str = "") -> int:
        with self._lock:
            proj = self._projects.project(project)
            if any(e.name.lower() == name.lower() for e in self._environments.values() if e.project_id == proj.id):
                raise EmulatorError(
                    409,
                    "EnvironmentExistsException",
                    f"Environment '{name}' already exists in the current project.",
                    _ENV + "EnvironmentExistsException",
                )
            env_id = next(self._environment_ids)
            pool_id = self._pools.create_pool(f"environment-{env_id}-{uuid.uuid4()}", pool_type="deployment")
            self._environments[env_id] = Environment(
                env_id, name, proj.id, pool_id, self._clock(), description=description
            )
            return env_id

    def delete_environment(self, project: str, env_id: int) -> None:
        with self._lock:
            env = self.environment(project, env_id)
            del self._environments[env.id]

    def environment(self, project: str, env_id: int) -> Environment:
        with self._lock:
            proj = self._projects.project(project)
            env = self._environments.get(env_id)
            if env is None or env.project_id != proj.id:
                raise EmulatorError(
                    404,
                    "EnvironmentNotFoundException",
                    f"Environment with id '{env_id}' not found.",
                    _ENV + "EnvironmentNotFoundException",
                )
            return env

    def environments(self, project: str, name: str | None = None) -> list[Environment]:
        with self._lock:
            proj = self._projects.project(project)
            found = [e for e in self._environments.values() if e.project_id == proj.id]
        if name is not None:
            found = [e for e in found if e.name.lower() == name.lower()]
        return found

    def vm_resource(self, env_id: int, resource_id: int) -> VmResource:
        with self._lock:
            resource = self._environments[env_id].resources.get(resource_id)
            if resource is None:
                raise _resource_not_found(env_id, resource_id)
            return resource

    def register_vm(
        self, env_id: int, name: str, tags: list[str] | None = None, *, online: bool = True
    ) -> tuple[int, int]:
        """What `config.sh --environment` does: an agent in the deployment pool plus a VM resource; `online`:
        whether its listener has connected yet (`svc.sh start`)."""
        with self._lock:
            env = self._environments[env_id]
            if any(r.name.lower() == name.lower() for r in env.resources.values()):
                raise EmulatorError(
                    409,
                    "EnvironmentResourceExistsException",
                    f"Environment with id '{env_id}' already contains a virtual machine resource with name '{name}'.",
                )
            agent_id = self._register_agent(env.pool_id, name, online)
            resource_id = next(self._resource_ids)
            env.resources[resource_id] = VmResource(
                resource_id, name, env_id, agent_id, list(tags or []), self._clock()
            )
            return resource_id, agent_id

    def vm_resources(self, env_id: int) -> list[VmResource]:
        with self._lock:
            return list(self._environments[env_id].resources.values())

    def delete_vm_resource(self, env_id: int, resource_id: int) -> None:
        """Removes the resource only: its agent stays in the deployment pool, as the real service does."""
        with self._lock:
            env = self._environments[env_id]
            if resource_id not in env.resources:
                raise _resource_not_found(env_id, resource_id)
            del env.resources[resource_id]


def _resource_not_found(env_id: int, resource_id: int) -> EmulatorError:
    return EmulatorError(
        404,
        "EnvironmentResourceNotFoundException",
        f"Resource with id '{resource_id}' not found in environment '{env_id}'.",
        _ENV + "EnvironmentResourceNotFoundException",
    )
