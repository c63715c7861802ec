"""The decision: from one pool's snapshot and policy, a plan. Pure: no I/O, the clock is `snapshot.now`.

The rules, and why (docs/scaling.md says the same in prose):
- Supply is idle agents plus starting tasks. Counting the tasks that are still starting is what keeps a
  pass from launching again for jobs that Fargate is already booting agents for.
- Launch what the queue and the standby target need beyond supply, at least enough for `min_agents`,
  never past `max_agents` live tasks, nor past the organization's parallel-job limit when known.
- Never drain, stop or delete a busy agent. Idle agents past their idle timeout are drained, oldest first,
  only as far as the queue, the standby target and `min_agents` allow.
- A task whose agent has not come online within the start-up timeout is stopped.
- Offline registrations whose task is gone are deleted, but the placeholder is kept, and so is the last
  registration of a pool that has no placeholder (ADO fails jobs at once for a pool with no agent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adoscale.scaling.model import (
    AgentView,
    DeleteAgent,
    Drain,
    EnableAgent,
    Launch,
    Plan,
    PoolPolicy,
    PoolSnapshot,
    StopTask,
    TaskView,
)

# ECS task ids: 32 hex digits on AWS; emulators may use UUIDs with dashes.
_TASK_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(slots=True)
class Classification:
    """Agents and tasks of one pool, paired by name and sorted into the states the rules talk about."""

    busy: list[AgentView] = field(default_factory=list)
    idle: list[tuple[AgentView, TaskView | None]] = field(default_factory=list)
    disabled_idle: list[tuple[AgentView, TaskView | None]] = field(default_factory=list)
    offline: list[AgentView] = field(default_factory=list)
    placeholder: list[AgentView] = field(default_factory=list)
    starting: list[TaskView] = field(default_factory=list)
    stalled: list[TaskView] = field(default_factory=list)  # live, no online agent, past the start-up timeout
    finished: list[TaskView] = field(default_factory=list)  # live, its agent ran its job and went offline
    live_tasks: list[TaskView] = field(default_factory=list)
    task_of: dict[str, TaskView] = field(default_factory=dict)  # agent name -> its task (any status)


def is_placeholder(name: str, policy: PoolPolicy) -> bool:
    """The placeholder is `placeholder_name`, with or without the pool's agent name prefix."""
    lowered = name.lower()
    return lowered in (policy.placeholder_name.lower(), (policy.agent_name_prefix + policy.placeholder_name).lower())


def is_task_agent_name(name: str, policy: PoolPolicy) -> bool:
    """Whether adoscale could have made this name: the prefix followed by an ECS task id."""
    prefix = policy.agent_name_prefix
    if prefix and not name.startswith(prefix):
        return False
    return bool(_TASK_ID.match(name[len(prefix) :].lower()))


def classify(snapshot: PoolSnapshot, policy: PoolPolicy) -> Classification:
    c = Classification()
    prefix = policy.agent_name_prefix
    c.task_of = {prefix + task.task_id: task for task in snapshot.tasks}
    agents_by_name = {agent.name: agent for agent in snapshot.agents}
    for agent in snapshot.agents:
        task = c.task_of.get(agent.name)
        if is_placeholder(agent.name, policy) and not agent.busy:
            c.placeholder.append(agent)
        elif agent.busy:
            c.busy.append(agent)
        elif not agent.online:
            c.offline.append(agent)
        elif agent.enabled:
            c.idle.append((agent, task))
        else:
            c.disabled_idle.append((agent, task))
    for task in snapshot.tasks:
        if not task.status.live:
            continue
        c.live_tasks.append(task)
        paired = agents_by_name.get(prefix + task.task_id)
        if paired is not None and (paired.online or paired.busy):
            continue
        if paired is not None and paired.last_finished is not None:
            # A run-once agent that finished its job and disconnected: its container is exiting. It is no
            # supply, and its task is stopped in case the exit hangs.
            c.finished.append(task)
            continue
        age = (snapshot.now - task.created_at).total_seconds()
        if age < policy.startup_timeout_seconds:
            c.starting.append(task)
        else:
            c.stalled.append(task)
    return c


def _idle_seconds(agent: AgentView, snapshot: PoolSnapshot) -> float:
    since = agent.idle_since
    return 0.0 if since is None else (snapshot.now - since).total_seconds()


@dataclass(slots=True)
class _Reclaim:
    enable: list[EnableAgent]
    finish_drain: list[tuple[AgentView, TaskView | None]]
    supply: int  # idle agents, starting tasks and the agents taken back


def _reclaim_disabled(c: Classification, queued: int, policy: PoolPolicy) -> _Reclaim:
    """Disabled idle agents are left over from an interrupted drain: take them back if the queue, the
    standby target or `min_agents` needs them, otherwise finish the drain. Finishing a drain that
    `min_agents` then replaces would launch again what is already running."""
    supply = len(c.idle) + len(c.starting)
    total = len(c.busy) + supply
    enable: list[EnableAgent] = []
    finish_drain: list[tuple[AgentView, TaskView | None]] = []
    for agent, task in sorted(c.disabled_idle, key=lambda pair: pair[0].agent_id):
        if task is None or not task.status.live:
            continue  # not an agent of ours, or its task is already gone: leave it to its owner
        if queued + policy.standby_agents > supply or total < policy.min_agents:
            reason = "needed for queued jobs" if queued + policy.standby_agents > supply else "needed for min_agents"
            enable.append(EnableAgent(agent.agent_id, agent.name, reason))
            supply += 1
            total += 1
        else:
            finish_drain.append((agent, task))
    return _Reclaim(enable, finish_drain, supply)


def _launch(
    c: Classification, snapshot: PoolSnapshot, policy: PoolPolicy, queued: int, supply: int, idle_count: int
) -> Launch | None:
    """What the queue, standby and min_agents need beyond supply, within max_agents and the parallel limit."""
    live = len(c.live_tasks)
    total = len(c.busy) + idle_count + len(c.starting)
    want = queued + policy.standby_agents - supply
    reasons: list[str] = []
    if want > 0:
        reasons.append(f"{queued} queued + {policy.standby_agents} standby - {supply} idle or starting")
    if policy.min_agents - total > max(want, 0):
        want = policy.min_agents - total
        reasons = [f"min_agents={policy.min_agents} with {total} agents"]
    launch_count = max(0, want)
    if launch_count:
        room = policy.max_agents - live
        if launch_count > room:
            launch_count = max(0, room)
            reasons.append(f"capped by max_agents={policy.max_agents} ({live} tasks live)")
        if snapshot.parallel_capacity is not None:
            parallel_room = snapshot.parallel_capacity - live
            if launch_count > parallel_room:
                launch_count = max(0, parallel_room)
                reasons.append(f"capped by the parallel-job limit ({snapshot.parallel_capacity} for this pool)")
    return Launch(launch_count, "; ".join(reasons)) if launch_count or reasons else None


def _drains(
    c: Classification,
    snapshot: PoolSnapshot,
    policy: PoolPolicy,
    queued: int,
    reclaim: _Reclaim,
    idle_count: int,
) -> list[Drain]:
    """Idle agents past their timeout (and any above max_agents), keeping what the queue, standby and
    min_agents need. Only agents whose task we know can be drained: others are not ours to stop."""
    drain: list[Drain] = [
        Drain(agent.agent_id, agent.name, task.task_arn if task else None, "completing an interrupted drain")
        for agent, task in reclaim.finish_drain
    ]
    live = len(c.live_tasks)
    total = len(c.busy) + idle_count + len(c.starting)
    keep_idle = queued + policy.standby_agents
    ours: list[tuple[AgentView, TaskView]] = sorted(
        ((agent, task) for agent, task in c.idle if task is not None and task.status.live),
        key=lambda pair: (-_idle_seconds(pair[0], snapshot), pair[0].agent_id),
    )
    over_max = max(0, live - policy.max_agents)
    removable = min(len(ours), max(0, idle_count - keep_idle), max(0, total - policy.min_agents))
    removable = max(removable, min(over_max, len(ours)))
    for agent, task in ours:
        if removable <= 0:
            break
        idle_for = _idle_seconds(agent, snapshot)
        if over_max > 0:
            reason = f"above max_agents={policy.max_agents}"
            over_max -= 1
        elif idle_for > policy.idle_timeout_seconds:
            reason = f"idle {idle_for:.0f} s > idle_timeout_seconds={policy.idle_timeout_seconds}"
        else:
            continue
        drain.append(Drain(agent.agent_id, agent.name, task.task_arn, reason))
        removable -= 1
    return sorted(drain, key=lambda d: d.agent_id)


def _stops(c: Classification, snapshot: PoolSnapshot, policy: PoolPolicy) -> tuple[list[StopTask], list[str]]:
    """Tasks whose agent never came online, and tasks whose run-once agent finished and went offline."""
    prefix = policy.agent_name_prefix
    stalled = [
        StopTask(
            task.task_arn,
            f"agent did not come online within {policy.startup_timeout_seconds} s",
            prefix + task.task_id,
        )
        for task in sorted(c.stalled, key=lambda t: t.task_arn)
    ]
    finished = [
        StopTask(task.task_arn, "its agent finished its job and disconnected", prefix + task.task_id)
        for task in sorted(c.finished, key=lambda t: t.task_arn)
    ]
    warnings = [f"{snapshot.pool}: stopping {s.task_arn}: {s.reason}" for s in stalled]
    return stalled + finished, warnings


def _deletes(c: Classification, snapshot: PoolSnapshot, policy: PoolPolicy) -> tuple[list[DeleteAgent], list[str]]:
    """Dead registrations: offline, not busy, ours by name, and their task is gone or stopped. The
    placeholder is kept, and so is the last registration of a pool that has no placeholder."""
    warnings: list[str] = []
    dead: list[AgentView] = []
    for agent in c.offline:
        task = c.task_of.get(agent.name)
        if task is not None and task.status.live:
            continue  # still starting, or stalled (then the task is stopped first)
        if task is None and not is_task_agent_name(agent.name, policy):
            continue  # not a name adoscale makes: someone else's agent
        dead.append(agent)
    if not c.placeholder:
        warnings.append(
            f"{snapshot.pool}: no placeholder agent ({policy.agent_name_prefix}{policy.placeholder_name}); "
            "ADO fails jobs at once when a pool has no agent registered. Create one: see docs/agent.md"
        )
        if dead and len(dead) == len(snapshot.agents):
            newest = max(dead, key=lambda a: (a.status_changed_on is not None, a.status_changed_on, a.agent_id))
            dead.remove(newest)
            warnings.append(f"{snapshot.pool}: keeping {newest.name} as a stand-in for the missing placeholder")
    delete = [
        DeleteAgent(agent.agent_id, agent.name, "offline and its task is gone")
        for agent in sorted(dead, key=lambda a: a.agent_id)
    ]
    return delete, warnings


def plan(snapshot: PoolSnapshot, policy: PoolPolicy) -> Plan:
    """The whole decision, phase by phase: reclaim disabled agents, launch, drain, stop, delete."""
    c = classify(snapshot, policy)
    queued = max(0, snapshot.queued)
    reclaim = _reclaim_disabled(c, queued, policy)
    idle_count = len(c.idle) + len(reclaim.enable)
    launch = _launch(c, snapshot, policy, queued, reclaim.supply, idle_count)
    drain = _drains(c, snapshot, policy, queued, reclaim, idle_count)
    stop, stop_warnings = _stops(c, snapshot, policy)
    delete, delete_warnings = _deletes(c, snapshot, policy)
    return Plan(
        pool=snapshot.pool,
        launch=launch,
        drain=tuple(drain),
        stop=tuple(stop),
        delete=tuple(delete),
        enable=tuple(reclaim.enable),
        warnings=(*stop_warnings, *delete_warnings),
        idle=len(c.idle),
        busy=len(c.busy),
        starting=len(c.starting),
        offline=len(c.offline),
        disabled=len(c.disabled_idle),
    )
