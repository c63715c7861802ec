"""The one composition root: every runtime builds its controller here, differing only in what it passes.

- `build_controller`: a `Reconciler` from ports the caller already has (the demo and the simulator pass
  their emulated ADO, their compute and an in-memory lease; tests pass fakes).
- `stores`: the lease and the warm pool's history for a deployment: DynamoDB when a lease table is
  configured (`lease_table`, else `ADOSCALE_LEASE_TABLE` through `config.Settings`), else no lease and
  history in memory. The CLI and the Lambdas read the same settings the same way.
- `controller`: the whole wiring on the real services (ADO with the PAT, ECS, the stores) as a context
  manager that closes the ADO client; `reconcile` and `serve`, the pass and hook Lambdas use it.

Compute per pool: `compute_for` maps a pool's configuration to its adapter (`adoscale.ports.ComputeFor`); the
default sends every pool to ECS (`EcsCompute`), and a configuration with EC2 pools (`ec2:`, docs/ec2.md) each
pool to its adapter (`RoutedCompute`). Another kind of pool is added the same way, here and nowhere else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from adoscale.ado.client import AdoClient
from adoscale.aws import make_client
from adoscale.compute.ecs import EcsCompute
from adoscale.compute.routed import RoutedCompute
from adoscale.config import Config, Settings
from adoscale.control.decide import Decide, PolicyFor
from adoscale.control.pass_ import PassLimits, Reconciler, call_budget
from adoscale.history import DynamoHistory, MemoryHistory
from adoscale.lease import DynamoLease
from adoscale.ports import AdoPort, Clock, Compute, ComputeFor, History, Lease, Monotonic
from adoscale.scaling import plan

log = logging.getLogger("adoscale.reconcile")

# How far apart two controllers' clocks may be: a lease is taken over only this long after its holder's own
# expiry (with the 60 s lease and 20 s pass, clocks up to 130 s apart never act at once).
LEASE_SKEW_MARGIN_S = 90.0

ClientFactory = Callable[[str], Any]
"""A boto3 client by service name (`bounded_client`, or a Lambda's cached one)."""


def bounded_client(service: str, limits: PassLimits | None = None) -> Any:
    """A boto3 client whose calls fit a pass (`call_budget`)."""
    return make_client(service, budget=call_budget(limits or PassLimits()))


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_controller(
    config: Config,
    ado: AdoPort,
    compute: Compute | None = None,
    *,
    compute_for: ComputeFor | None = None,
    clock: Clock = utc_now,
    lease: Lease | None = None,
    history: History | None = None,
    limits: PassLimits | None = None,
    pool_ids: MutableMapping[str, int] | None = None,
    monotonic: Monotonic = time.monotonic,
    pass_id_prefix: str | None = None,
    decide: Decide = plan,
    policy: PolicyFor | None = None,
) -> Reconciler:
    """The controller on the given ports. One of `compute` (every pool) or `compute_for` (per pool)."""
    return Reconciler(
        config,
        ado,
        compute,
        clock,
        lease=lease,
        limits=limits,
        decide=decide,
        policy=policy,
        monotonic=monotonic,
        pass_id_prefix=pass_id_prefix,
        pool_ids=pool_ids,
        history=history,
        compute_for=compute_for,
    )


def stores(
    config: Config, settings: Settings, client: ClientFactory, *, history: History | None = None
) -> tuple[Lease | None, History]:
    """The deployment's lease and history: in the lease table when there is one (`lease_table`, else
    `ADOSCALE_LEASE_TABLE`), else no lease and `history` (a process's own memory by default)."""
    table = config.lease_table or settings.lease_table
    if not table:
        return None, history if history is not None else MemoryHistory()
    dynamodb = client("dynamodb")
    # The warm pool's demand history lives beside the leases (one item per pool).
    return DynamoLease(dynamodb, table, skew_margin_s=LEASE_SKEW_MARGIN_S), DynamoHistory(dynamodb, table)


@contextmanager
def controller(
    config: Config,
    settings: Settings,
    *,
    pat: str,
    client: ClientFactory = bounded_client,
    compute_for: ComputeFor | None = None,
    history: History | None = None,
    pool_ids: MutableMapping[str, int] | None = None,
    warn_unleased: bool = False,
) -> Iterator[Reconciler]:
    """A controller on the real services: Azure DevOps with `pat`, ECS (or `compute_for`), and the
    deployment's stores. `history` is where history goes without a lease table (a warm Lambda passes one
    that outlives the invocation)."""
    lease, kept = stores(config, settings, client, history=history)
    if lease is None and warn_unleased:
        log.warning(
            "no lease table configured (lease_table or ADOSCALE_LEASE_TABLE): concurrent controllers (another "
            "serve, the Lambda) are not coordinated and may launch twice for the same jobs"
        )
    with AdoClient(config.organization_url, pat) as ado:
        if compute_for is None and any(pool.ec2 is not None for pool in config.pools):
            # EC2 pools (docs/ec2.md) beside the Fargate ones: each pool to its adapter.
            compute_for = RoutedCompute.for_config(client, config).for_pool
        ecs = EcsCompute.for_config(client("ecs"), config) if compute_for is None else None
        yield build_controller(config, ado, ecs, compute_for=compute_for, lease=lease, history=kept, pool_ids=pool_ids)


def compute_router(config: Config, client: ClientFactory = bounded_client) -> ComputeFor:
    """Each pool to its compute adapter, as `controller` wires them, for a caller that needs no Azure DevOps
    (the workflow's plan reads only the pools' tasks)."""
    if any(pool.ec2 is not None for pool in config.pools):
        return RoutedCompute.for_config(client, config).for_pool
    ecs = EcsCompute.for_config(client("ecs"), config)
    return lambda _pool: ecs


__all__ = [
    "LEASE_SKEW_MARGIN_S",
    "ClientFactory",
    "bounded_client",
    "build_controller",
    "call_budget",
    "compute_router",
    "controller",
    "stores",
    "utc_now",
]
