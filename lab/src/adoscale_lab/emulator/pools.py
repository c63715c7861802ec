"""Pools and the agents registered in them: what `config.sh` and the agent-pool settings page change.

Assignment is not here: an agent that comes online or is enabled may take a waiting job, and the model
(`AdoModel`) runs the job part's assignment after each such change, so this part needs no jobs.
"""

from __future__ import annotations

import itertools
import threading
import uuid

from adoscale_lab.emulator.entities import AGENT_VERSION, Agent, Clock, Pool, agent_system_capabilities
from adoscale_lab.emulator.errors import EmulatorError


class PoolsAndAgents:
    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self._lock = lock
        self._clock = clock
        self._pools: dict[int, Pool] = {}
        self._pools_by_name: dict[str, int] = {}
        self._pool_ids = itertools.count(1)
        self._agent_ids = itertools.count(1)

    # -- pools -----------------------------------------------------------------------------------

    def create_pool(self, name: str, pool_type: str = "automation") -> int:
        with self._lock:
            if name.lower() in self._pools_by_name:
                raise EmulatorError(409, "TaskAgentPoolExistsException", f"Agent pool {name} already exists.")
            pool_id = next(self._pool_ids)
            self._pools[pool_id] = Pool(pool_id, name, pool_type, str(uuid.uuid4()), self._clock())
            self._pools_by_name[name.lower()] = pool_id
            return pool_id

    def pool(self, pool_id: int) -> Pool:
        with self._lock:
            try:
                return self._pools[pool_id]
            except KeyError:
                raise EmulatorError(
                    404, "TaskAgentPoolNotFoundException", f"No agent pool found with identifier {pool_id}."
                ) from None

    def pool_by_name(self, name: str) -> Pool:
        with self._lock:
            pool_id = self._pools_by_name.get(name.lower())
            if pool_id is None:
                raise EmulatorError(404, "TaskAgentPoolNotFoundException", f"No agent pool found with name {name}.")
            return self._pools[pool_id]

    def pools(self, name: str | None = None, pool_type: str | None = None) -> list[Pool]:
        with self._lock:
            found = list(self._pools.values())
        if name is not None:
            found = [p for p in found if p.name.lower() == name.lower()]
        if pool_type is not None:
            found = [p for p in found if p.pool_type == pool_type]
        return found

    # -- agents ----------------------------------------------------------------------------------

    def register_agent(
        self,
        pool_id: int,
        name: str,
        capabilities: dict[str, str] | None = None,
        *,
        online: bool = True,
        enabled: bool = True,
        user_capabilities: dict[str, str] | None = None,
        replace: bool = False,
        once: bool = False,
        system: dict[str, str] | None = None,
        version: str | None = None,
        os_description: str | None = None,
    ) -> int:
        """What `config.sh` does: add an agent (or replace one of the same name with `replace`).

        `system`: the system capabilities exactly as sent (the REST route: the service stores what the client
        reports). Without it, the agent reports what a real Linux X64 agent would (`agent_system_capabilities`)
        with `capabilities` on top: the model's shorthand for tests, the demo and the simulator.
        """
        with self._lock:
            pool = self.pool(pool_id)
            existing = next((a for a in pool.agents.values() if a.name.lower() == name.lower()), None)
            if existing is not None and not replace:
                raise EmulatorError(
                    409,
                    "TaskAgentExistsException",
                    f"Pool {pool_id} already contains an agent with name {name}.",
                )
            now = self._clock()
            if system is None:
                system = {**agent_system_capabilities(name, version=version or AGENT_VERSION), **(capabilities or {})}
            agent_id = existing.id if existing else next(self._agent_ids)
            pool.agents[agent_id] = Agent(
                id=agent_id,
                name=name,
                pool_id=pool_id,
                system_capabilities=system,
                user_capabilities=dict(user_capabilities or {}),
                enabled=enabled,
                online=online,
                created_on=now,
                status_changed_on=now,
                once=once,
                version=version or AGENT_VERSION,
            )
            if os_description is not None:
                pool.agents[agent_id].os_description = os_description
            return agent_id

    def agent(self, pool_id: int, agent_id: int) -> Agent:
        with self._lock:
            agent = self.pool(pool_id).agents.get(agent_id)
            if agent is None:
                raise EmulatorError(
                    404,
                    "TaskAgentNotFoundException",
                    f"No agent found in pool {pool_id} with identifier {agent_id}.",
                )
            return agent

    def agents(self, pool_id: int) -> list[Agent]:
        with self._lock:
            return list(self.pool(pool_id).agents.values())

    def set_agent_online(self, pool_id: int, agent_id: int, online: bool) -> None:
        with self._lock:
            agent = self.agent(pool_id, agent_id)
            if agent.online != online:
                agent.online = online
                agent.status_changed_on = self._clock()

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent:
        with self._lock:
            agent = self.agent(pool_id, agent_id)
            agent.enabled = enabled
            return agent

    def remove_agent(self, pool_id: int, agent_id: int) -> None:
        """Delete an agent. A busy agent cannot be deleted (not verified: status and type key are inferred)."""
        with self._lock:
            pool = self.pool(pool_id)
            agent = self.agent(pool_id, agent_id)
            if agent.assigned_request is not None:
                raise EmulatorError(
                    400,
                    "TaskAgentBusyException",
                    f'Agent "{agent.name}" is running a job for pool "{pool.name}"',
                )
            del pool.agents[agent_id]
