"""Scenarios: the emulator's starting state as data (YAML or JSON), for users who do not write Python.

```yaml
parallel_limit: 5
projects:
  - name: web
    environments:
      - name: prod
        vms: [{name: vm-1, tags: [blue]}]
pools:
  - name: linux
    agents:
      - {name: agent-1, capabilities: {docker: ""}, status: offline}
    jobs:
      - {demands: [docker], duration_s: 30, count: 2}
faults:
  seed: 7
  rules: [{route: /agents, error_5xx: 0.1}]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.faults import FaultRule, Faults
from adoscale_lab.emulator.model import AdoModel


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentSpec(_Strict):
    name: str = Field(min_length=1)
    capabilities: dict[str, str] = Field(default_factory=dict)
    user_capabilities: dict[str, str] = Field(default_factory=dict)
    status: Literal["online", "offline"] = "online"
    enabled: bool = True
    once: bool = False


class JobSpec(_Strict):
    demands: list[str] = Field(default_factory=list)
    duration_s: float | None = Field(default=None, ge=0)
    count: int = Field(default=1, ge=1, le=10_000)
    project: str | None = None


class PoolSpec(_Strict):
    name: str = Field(min_length=1)
    pool_type: Literal["automation", "deployment"] = "automation"
    agents: list[AgentSpec] = Field(default_factory=list)
    jobs: list[JobSpec] = Field(default_factory=list)


class VmSpec(_Strict):
    name: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)


class EnvironmentSpec(_Strict):
    name: str = Field(min_length=1)
    vms: list[VmSpec] = Field(default_factory=list)


class ProjectSpec(_Strict):
    name: str = Field(min_length=1)
    environments: list[EnvironmentSpec] = Field(default_factory=list)


class FaultRuleSpec(_Strict):
    route: str = ""
    error_5xx: float = Field(default=0.0, ge=0, le=1)
    throttle_429: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: float = Field(default=1.0, ge=0)
    rate_limit_delay: float = Field(default=0.0, ge=0, le=1)
    latency_s: float = Field(default=0.0, ge=0)
    drip_interval_s: float = Field(default=0.0, ge=0)
    hang: bool = False
    repeat_continuation_token: bool = False
    truncated_body: bool = False

    def rule(self) -> FaultRule:
        return FaultRule(**self.model_dump())


class FaultsSpec(_Strict):
    seed: int | None = None
    rules: list[FaultRuleSpec] = Field(default_factory=list)


class Scenario(_Strict):
    parallel_limit: int | None = Field(default=None, ge=0)
    projects: list[ProjectSpec] = Field(default_factory=list)
    pools: list[PoolSpec] = Field(default_factory=list)
    faults: FaultsSpec | None = None


class ScenarioError(ValueError):
    """A scenario that cannot be read or applied; the message says where."""


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ScenarioError(f"{source}: {problems}") from None


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not YAML ({exc})") from None
    return parse_scenario(data, str(path))


def apply_faults(spec: FaultsSpec, faults: Faults) -> None:
    if spec.seed is not None:
        faults.seed = spec.seed
        faults.rng.seed(spec.seed)
    faults.rules = [rule.rule() for rule in spec.rules]


def apply_scenario(scenario: Scenario, model: AdoModel, faults: Faults) -> None:
    """Create what the scenario describes; the model's own errors (duplicates) become ScenarioError."""
    try:
        if scenario.parallel_limit is not None:
            model.set_parallel_limit(scenario.parallel_limit)
        for project in scenario.projects:
            model.create_project(project.name)
            for env in project.environments:
                env_id = model.create_environment(project.name, env.name)
                for vm in env.vms:
                    model.register_vm(env_id, vm.name, vm.tags)
        for pool in scenario.pools:
            pool_id = model.create_pool(pool.name, pool.pool_type)
            # Agents first: the service fails at once a job that no registered agent meets, so a scenario's
            # jobs are queued against the agents it registers (a job none of them meets fails, as it would).
            for agent in pool.agents:
                model.register_agent(
                    pool_id,
                    agent.name,
                    agent.capabilities,
                    online=agent.status == "online",
                    enabled=agent.enabled,
                    user_capabilities=agent.user_capabilities,
                    once=agent.once,
                )
            for job in pool.jobs:
                for _ in range(job.count):
                    model.queue_job(pool_id, job.demands, duration_s=job.duration_s, project=job.project)
        if scenario.faults is not None:
            apply_faults(scenario.faults, faults)
    except EmulatorError as exc:
        raise ScenarioError(f"scenario: {exc.message}") from None
