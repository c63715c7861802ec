"""What the control-plane handlers share: the configuration (SSM parameter, cached), a reconciler wired
to the real services, and one error for events that are not what the workflow sends."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from adoscale import bootstrap
from adoscale.ado.errors import AdoAuthError, AdoScopeError
from adoscale.config import Config, PoolConfig
from adoscale.control import Reconciler
from adoscale.handlers._runtime import aws_calls, clear_cache, client, deployment, pat, settings
from adoscale.history import MemoryHistory

T = TypeVar("T")
log = logging.getLogger("adoscale.handlers")

# Pool ids by organization, kept for the life of a warm Lambda (they never change for a pool name), so a
# steady pass makes two ADO calls, not three.
_POOL_IDS: dict[str, dict[str, int]] = {}
_MEMORY_HISTORY = MemoryHistory()


class BadEventError(ValueError):
    """The event is not what the workflow sends: rejected with a clear message and not retried (the
    workflow's Retry lists only transient errors)."""


def load_config() -> Config:
    """The validated configuration, through the one loader every runtime uses (`_runtime.settings`)."""
    return settings()


@contextmanager
def reconciler(config: Config) -> Iterator[Reconciler]:
    """The controller on the real services, wired by the one composition root (`adoscale.bootstrap`) as the
    CLI's is: the pool's lease and history in the lease table when one is configured (`lease_table`, or
    `ADOSCALE_LEASE_TABLE` set by the deployment), else history in this container. A throttled or failing
    AWS call leaves as `AwsUnavailableError`, which the workflow retries."""
    pool_ids = _POOL_IDS.setdefault(config.organization_url, {})
    with (
        aws_calls(),
        bootstrap.controller(
            config, deployment(), pat=pat(config), client=client, history=_MEMORY_HISTORY, pool_ids=pool_ids
        ) as rec,
    ):
        yield rec


def with_rotation(config: Config, work: Callable[[Reconciler], T]) -> T:
    """`work` on a controller; when Azure DevOps refuses the PAT, the secret is read again once (the warm
    container's cache dropped) and, if it now holds another value (the PAT was rotated), `work` runs again
    with it. The same PAT, or a second refusal: `AdoAuthError`, as before. A PAT that lacks the manage scope
    (`AdoScopeError`) is read again the same way: the fix is a new PAT with the scope, stored in the secret."""
    used = pat(config)
    try:
        with reconciler(config) as rec:
            return work(rec)
    except (AdoAuthError, AdoScopeError):
        clear_cache()
        if pat(config) == used:
            raise
        log.warning("Azure DevOps refused the PAT and its secret holds a new one (rotated): trying again with it")
    with reconciler(config) as rec:
        return work(rec)


def pool_config(config: Config, name: str) -> PoolConfig:
    for pool in config.pools:
        if pool.name == name:
            return pool
    raise BadEventError(
        f"no pool named {name!r} in the configuration (pools: {', '.join(p.name for p in config.pools)})"
    )
