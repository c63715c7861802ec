"""PAT scopes: which scope each route needs, and whether a PAT's scopes grant it. Pure.

A PAT is created with "Full access" or with custom-defined scopes (Microsoft Learn, "Use personal access tokens"
and "OAuth scopes" for Azure DevOps). The scopes the emulator's routes need, by area and method:

- `distributedtask` pools, agents, queues, job requests, resource usage: reading needs `vso.agentpools`
  ("Agent Pools (read)"); a POST, PUT, PATCH or DELETE needs `vso.agentpools_manage` ("Agent Pools (read &
  manage)"), which also grants the read;
- Environments and their VM resources (both areas), read or written: `vso.environment_manage` (the only
  Environment scope, "Environment (read & manage)");
- projects: `vso.project`; service-hook subscriptions: `vso.hooks` to read, `vso.hooks_write` to change;
- the location service and connection data: any authenticated PAT (clients ask them before anything else).

What the service answers when a valid PAT lacks the scope a call needs: HTTP 401 with the JSON error
`TF400813: The user '…' is not authorized to access this resource.` (`../shared/ado-api/README.md` §6.2: "a
valid PAT without permission for the resource gives 401 TF400813", from the agent's log in
azure-pipelines-agent issue #4722; users of scoped PATs report the same 401). Not 203: the sign-in page is
the answer to a PAT the service does not know, and this one it knows. Which read route needs which scope is
inferred from the scope descriptions, not verified call by call (docs/emulator.md says so).
"""

from __future__ import annotations

from collections.abc import Iterable

from adoscale_lab.emulator.locations import L, Location

AGENT_POOLS = "vso.agentpools"
AGENT_POOLS_MANAGE = "vso.agentpools_manage"
ENVIRONMENT_MANAGE = "vso.environment_manage"
PROJECT = "vso.project"
HOOKS = "vso.hooks"
HOOKS_WRITE = "vso.hooks_write"

# A scope grants these others too (a "manage" or "write" scope includes its read).
_IMPLIES: dict[str, frozenset[str]] = {
    AGENT_POOLS_MANAGE: frozenset({AGENT_POOLS}),
    HOOKS_WRITE: frozenset({HOOKS}),
}
KNOWN = frozenset({AGENT_POOLS, AGENT_POOLS_MANAGE, ENVIRONMENT_MANAGE, PROJECT, HOOKS, HOOKS_WRITE})

_AGENT_POOL_LOCATIONS = frozenset({L.POOLS.id, L.AGENTS.id, L.QUEUES.id, L.JOB_REQUESTS.id, L.RESOURCE_USAGE.id})
_ENVIRONMENT_LOCATIONS = frozenset({L.ENVIRONMENTS.id, L.PIPELINE_ENVIRONMENTS.id, L.VM_RESOURCES.id, L.VM_POOL.id})


def required_scope(method: str, location: Location) -> str | None:
    """The scope a call needs (None: any authenticated PAT)."""
    writes = method.upper() in ("POST", "PUT", "PATCH", "DELETE")
    if location.id in _AGENT_POOL_LOCATIONS:
        return AGENT_POOLS_MANAGE if writes else AGENT_POOLS
    if location.id in _ENVIRONMENT_LOCATIONS:
        return ENVIRONMENT_MANAGE
    if location.id == L.PROJECTS.id:
        return PROJECT
    if location.id == L.SUBSCRIPTIONS.id:
        return HOOKS_WRITE if writes else HOOKS
    return None


def granted(scopes: Iterable[str] | None, needed: str | None) -> bool:
    """Whether a PAT with `scopes` (None: full access) may make a call that needs `needed`."""
    if scopes is None or needed is None:
        return True
    held = set(scopes)
    for scope in list(held):
        held |= _IMPLIES.get(scope, frozenset())
    return needed in held


def parse_scopes(value: object) -> frozenset[str] | None:
    """Scopes as the admin API takes them: null (full access) or a list of known scope names."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError("'scopes' must be null (full access) or a list of scope names")
    unknown = sorted(set(value) - KNOWN)
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}")
    return frozenset(value)
