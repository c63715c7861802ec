"""What the control-plane handlers share: the configuration (SSM parameter, cached), a reconciler wired
to the real services, and one error for events that are not what the workflow sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from adoscale.ado.client import AdoClient
from adoscale.compute.routed import RoutedCompute
from adoscale.config import Config, PoolConfig
from adoscale.handlers._runtime import aws_calls, client, deployment, pat, settings
from adoscale.history import DynamoHistory, MemoryHistory
from adoscale.lease import DynamoLease
from adoscale.reconcile import Reconciler

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
    """A reconciler on the real services, with the pool's lease when a lease table is configured
    (`lease_table`, or `ADOSCALE_LEASE_TABLE` set by the deployment). A throttled or failing AWS call
    leaves as `AwsUnavailableError`, which the workflow retries."""
    table = config.lease_table or deployment().lease_table
    lease = DynamoLease(client("dynamodb"), table) if table else None
    # The warm pool's demand history lives beside the leases (one item per pool), else in this container.
    history = DynamoHistory(client("dynamodb"), table) if table else _MEMORY_HISTORY
    with aws_calls(), AdoClient(config.organization_url, pat(config)) as ado:
        compute = RoutedCompute.for_config(client, config)
        pool_ids = _POOL_IDS.setdefault(config.organization_url, {})
        yield Reconciler(
            config, ado, compute, lambda: datetime.now(UTC), lease=lease, pool_ids=pool_ids, history=history
        )


def pool_config(config: Config, name: str) -> PoolConfig:
    for pool in config.pools:
        if pool.name == name:
            return pool
    raise BadEventError(
        f"no pool named {name!r} in the configuration (pools: {', '.join(p.name for p in config.pools)})"
    )
