"""The placeholder registration that keeps a pool open at zero agents.

Azure DevOps fails a job at once when no agent registered in its pool, online or offline, meets the job's
demands ("No agent found in pool ... which satisfies the specified demands"). A pool that scales to zero
therefore needs one registration that stays when every task is gone: an offline agent whose capabilities are
what the pool's real agents will report. A registration made once is a snapshot, so every pass compares it
with the pool's configuration and registers it again when they differ.

Pure parts first (the capabilities an agent of a platform reports, the decision); `ensure_placeholder` is
the thin adapter that reads and writes the registration through the agent-registration API, the way
`config.sh` does (a generated RSA key pair; the private half is thrown away: the placeholder never connects,
so nothing can ever sign in with it, and there is no secret to keep).

What is verified and what is inferred is in docs/agent.md ("The placeholder").
"""

from __future__ import annotations

import base64
import functools
import logging
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from adoscale.ado.errors import AdoAuthError, AdoConflictError, scope_error
from adoscale.ado.models import Agent

log = logging.getLogger("adoscale.placeholder")

# The agent version agent/Dockerfile installs (AGENT_VERSION there): what `Agent.Version` reads on our agents.
AGENT_VERSION = "4.258.1"
# Where agent/Dockerfile unpacks the agent (AZP_AGENT_DIR): the agent reports it as `Agent.HomeDirectory`.
AGENT_HOME = "/azp/agent"

# `Agent.OS` and `Agent.OSArchitecture` as the agent reports them: `VarUtil.OS` ("Linux", "Darwin",
# "Windows_NT") and .NET's `RuntimeInformation.OSArchitecture` name ("X64", "Arm64").
PLATFORMS: Mapping[str, tuple[str, str]] = {"linux/x64": ("Linux", "X64"), "linux/arm64": ("Linux", "Arm64")}


def system_capabilities(platform: str, agent_name: str, version: str = AGENT_VERSION) -> dict[str, str]:
    """The system capabilities every agent of `platform` reports, whatever task it runs in.

    From azure-pipelines-agent `AgentCapabilitiesProvider.cs`. Left out on purpose: the ones that differ per
    task (`Agent.ComputerName`, `Agent.MachineName`) and the environment variables (they depend on the image and
    the task definition): a job that demands one of them is a job for one machine, not for a pool.
    """
    try:
        os_name, architecture = PLATFORMS[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}") from None
    return {
        "Agent.Name": agent_name,
        "Agent.OS": os_name,
        "Agent.OSArchitecture": architecture,
        "Agent.Version": version,
        "Agent.HomeDirectory": AGENT_HOME,
        "InteractiveSession": "False",
    }


def pool_agent_capabilities(
    configured: Mapping[str, str] | None, platform: str, agent_name_prefix: str = ""
) -> dict[str, str] | None:
    """What any agent adoscale launches for a pool offers, for demand matching: the system capabilities of its
    platform and the pool's configured ones. None when the pool configures no capabilities (every job counts).

    `Agent.Name` is left out: every task's agent has its own name, so no pool-wide value exists.
    """
    if configured is None:
        return None
    system = system_capabilities(platform, agent_name_prefix)
    del system["Agent.Name"]
    return {**system, **configured}


@dataclass(frozen=True, slots=True)
class PlaceholderSpec:
    """The registration a pool should have."""

    name: str
    system_capabilities: Mapping[str, str]
    user_capabilities: Mapping[str, str]
    version: str = AGENT_VERSION
    # False when the pool configures no capabilities: adoscale does not know what its agents offer, so it
    # creates a placeholder if there is none but never rewrites one that exists (made with the image's
    # `--placeholder`, or by hand), which may carry capabilities a job needs.
    managed: bool = True

    @classmethod
    def for_pool(
        cls,
        *,
        name: str,
        platform: str,
        capabilities: Mapping[str, str] | None,
        version: str = AGENT_VERSION,
    ) -> PlaceholderSpec:
        # The pool's configured capabilities go in as user capabilities: the agent image reports them as
        # environment variables (system), but user capabilities match the same way and say who set them.
        system = system_capabilities(platform, name, version)
        return cls(name, system, dict(capabilities or {}), version, managed=capabilities is not None)


class PlaceholderAction(StrEnum):
    KEEP = "keep"  # registered, with the capabilities the pool needs
    CREATE = "create"  # none registered
    REPLACE = "replace"  # registered, but its capabilities differ from the pool's (configuration changed)
    FOREIGN = "foreign"  # an online or busy agent carries the name: a real agent, never touched


def _lower(capabilities: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in capabilities.items()}


def decide(spec: PlaceholderSpec, existing: Agent | None) -> PlaceholderAction:
    """What to do about the pool's placeholder, from the registration found under its name (pure)."""
    if existing is None:
        return PlaceholderAction.CREATE
    if existing.busy or existing.online:
        return PlaceholderAction.FOREIGN
    if not spec.managed:
        return PlaceholderAction.KEEP
    # Names compare ignoring case, as the service's capability dictionary does; values exactly.
    if _lower(existing.system_capabilities) != _lower(spec.system_capabilities) or _lower(
        existing.user_capabilities
    ) != _lower(spec.user_capabilities):
        return PlaceholderAction.REPLACE
    return PlaceholderAction.KEEP


# -- the key pair ---------------------------------------------------------------------------------------


def _small_primes(limit: int) -> tuple[int, ...]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytearray(len(sieve[n * n :: n]))
    return tuple(n for n, prime in enumerate(sieve) if prime and n > 2)


# Trial division first (one gcd with their product): it rejects most candidates before any modular power.
_SMALL_PRIMES = _small_primes(4000)
_SMALL_PRODUCT = math.prod(_SMALL_PRIMES)
_EXPONENT = 65537
# Miller-Rabin rounds for random 1024-bit candidates: far below 2**-80 error (FIPS 186-5 table B.1 asks for 4-5).
_ROUNDS = 8


def _probably_prime(n: int) -> bool:
    if math.gcd(n, _SMALL_PRODUCT) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(_ROUNDS):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if (candidate - 1) % _EXPONENT and _probably_prime(candidate):
            return candidate


def _b64(number: int) -> str:
    return base64.b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode()


def public_key(bits: int = 2048) -> dict[str, str]:
    """A fresh RSA public key as the service takes it (`TaskAgentPublicKey`: base64 big-endian exponent and
    modulus, what `config.sh` sends); the private half is not kept (see the module's docstring)."""
    half = bits // 2
    while True:
        modulus = _prime(half) * _prime(bits - half)
        if modulus.bit_length() == bits:
            return {"exponent": _b64(_EXPONENT), "modulus": _b64(modulus)}


@functools.cache
def placeholder_key() -> dict[str, str]:
    """One public key per process for every placeholder it registers: the private half is thrown away, so a
    key per registration would protect nothing more, and a 2048-bit key takes about half a second in Python."""
    return public_key()


def registration_body(spec: PlaceholderSpec, key: Mapping[str, str]) -> dict[str, Any]:
    """The add-agent body, shaped as `ConfigurationManager.CreateNewAgent` sends it."""
    return {
        "name": spec.name,
        "version": spec.version,
        "osDescription": "adoscale placeholder (never runs jobs)",
        "maxParallelism": 1,
        "provisioningState": "Provisioned",
        "enabled": True,
        "authorization": {"publicKey": dict(key)},
        "systemCapabilities": dict(spec.system_capabilities),
        "userCapabilities": dict(spec.user_capabilities),
    }


# -- the adapter ------------------------------------------------------------------------------------------


class PlaceholderPort(Protocol):
    """The agent-registration calls the placeholder needs (`adoscale.ado.AdoClient` has them)."""

    def list_agents(self, pool_id: int, *, last_completed: bool = False, name: str | None = None) -> list[Agent]: ...

    def add_agent(self, pool_id: int, body: Mapping[str, Any]) -> Agent: ...

    def replace_agent(self, pool_id: int, agent_id: int, body: Mapping[str, Any]) -> Agent: ...

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent: ...


def ensure_placeholder(
    ado: PlaceholderPort,
    pool_id: int,
    spec: PlaceholderSpec,
    agents: Iterable[Agent] | None = None,
    *,
    pool: str = "",
) -> PlaceholderAction:
    """Create or re-register the pool's placeholder when it is missing or out of date.

    `agents`: the pool's agents with their capabilities, as the pass has just read them (then a steady pass
    costs no call at all); without them, the placeholder is read by name (one call). A registration refused
    as unauthorised after those reads succeeded is `AdoScopeError` (the PAT lacks the manage scope).
    """
    if agents is None:
        agents = ado.list_agents(pool_id, name=spec.name)
    existing = next((a for a in agents if a.name.lower() == spec.name.lower()), None)
    action = decide(spec, existing)
    try:
        if action is PlaceholderAction.CREATE:
            try:
                ado.add_agent(pool_id, registration_body(spec, placeholder_key()))
            except AdoConflictError:
                # Registered meanwhile (a concurrent pass, or a retried POST whose first answer was lost): the
                # next pass compares its capabilities.
                return PlaceholderAction.KEEP
            log.info("pool %d: registered placeholder %s", pool_id, spec.name)
        elif action is PlaceholderAction.REPLACE and existing is not None:
            ado.replace_agent(pool_id, existing.id, {**registration_body(spec, placeholder_key()), "id": existing.id})
            log.info("pool %d: placeholder %s registered again: the pool's capabilities changed", pool_id, spec.name)
        elif action is PlaceholderAction.FOREIGN:
            log.warning("pool %d: an online agent is named %s; the placeholder is left to it", pool_id, spec.name)
    except AdoAuthError as exc:
        raise scope_error(pool or str(pool_id), exc) from None
    return action


def confirm_manage(ado: PlaceholderPort, pool_id: int, name: str, agents: Iterable[Agent], *, pool: str = "") -> bool:
    """Check, before a pass changes anything, that the PAT may manage the pool (the "Agent Pools (read &
    manage)" scope): the pool's placeholder registration (`name`) is written again as it is (its `enabled`
    unchanged: nothing changes in ADO). Needed because reading the pool needs only the read scope, and without
    this the first write is the drain of an agent already launched, which then idles for ever.

    `AdoScopeError` when the write is refused as unauthorised (the reads with the same PAT just succeeded);
    False when the pool has no registration of that name to write (nothing checked)."""
    existing = next((a for a in agents if a.name.lower() == name.lower()), None)
    if existing is None:
        return False
    try:
        ado.set_agent_enabled(pool_id, existing.id, bool(existing.enabled))
    except AdoAuthError as exc:
        raise scope_error(pool or str(pool_id), exc) from None
    return True


__all__ = [
    "AGENT_VERSION",
    "PLATFORMS",
    "PlaceholderAction",
    "PlaceholderPort",
    "PlaceholderSpec",
    "confirm_manage",
    "decide",
    "ensure_placeholder",
    "pool_agent_capabilities",
    "public_key",
    "registration_body",
    "system_capabilities",
]
