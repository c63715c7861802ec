"""What the control-plane handlers share: the configuration (SSM parameter, cached), a reconciler wired
to the real services, and one error for events that are not what the workflow sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from adoscale import bootstrap
from adoscale.config import Config, PoolConfig
from adoscale.control import Reconciler
from adoscale.handlers._runtime import aws_calls, client, deployment, pat, settings
from adoscale.history import MemoryHistory

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


def pool_config(config: Config, name: str) -> PoolConfig:
    for pool in config.pools:
        if pool.name == name:
            return pool
    raise BadEventError(
        f"no pool named {name!r} in the configuration (pools: {', '.join(p.name for p in config.pools)})"
    )
