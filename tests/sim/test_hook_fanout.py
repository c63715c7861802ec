"""Issue 25, item 4: the hook fan-out. Azure DevOps' job events carry no pool, so `adoscale hooks install` makes
one subscription per pool and every job event reaches the endpoint once per pool (`?pool=NAME`). With 20
pools, one job queued in one of them is 20 deliveries; each accepted one runs that pool's hook pass
(`Reconciler.hook_pass`, as the Lambda's queued pass and `serve` run it). Measured here against the
emulator through the real HTTP client: the Azure DevOps calls one job event costs, in all and for the pools
it is not about. Prints the figures."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from adoscale.ado import AdoClient
from adoscale.config import parse_config
from adoscale.control import Reconciler
from adoscale.hooks import HookValidator
from adoscale.hooks.validate import POOL_PARAMETER, SECRET_HEADER
from adoscale_lab.emulator import AdoModel, make_app
from adoscale_lab.sim.fargate import EventQueue, SimFargate

POOLS = 20
SECRET = "fan-out-secret-0123456789"


def _world() -> tuple[AdoModel, dict[str, int], Reconciler, SimFargate, HookValidator, list[dict[str, Any]]]:
    events = EventQueue(datetime(2026, 11, 23, 9, tzinfo=UTC))
    model = AdoModel(org="fan", pat="fan-pat-0000", clock=events.clock)
    names = [f"pool-{i:02d}" for i in range(POOLS)]
    pool_ids = {name: model.create_pool(name) for name in names}
    model.set_parallel_limit(100)  # an organization with self-hosted parallel jobs: the limit is read
    fargate = SimFargate(events, model, pool_ids, lambda _r: 300.0, random.Random(1))
    ecs = {"cluster": "c", "task_definition": "t", "subnets": ["s"]}
    config = parse_config(
        json.dumps({"organization_url": "http://ado.local/fan", "pools": [{"name": n, "ecs": ecs} for n in names]})
    )
    http = httpx.Client(transport=httpx.WSGITransport(app=make_app(model)), base_url="http://ado.local")
    ado = AdoClient(config.organization_url, "fan-pat-0000", http=http)
    reconciler = Reconciler(config, ado, fargate, events.clock)
    delivered: list[dict[str, Any]] = []
    model.subscribe(delivered.append)
    return model, pool_ids, reconciler, fargate, HookValidator(SECRET, names, clock=events.clock), delivered


def test_one_job_event_costs_ado_calls_for_its_own_pool_only() -> None:
    model, pool_ids, reconciler, _fargate, validator, delivered = _world()
    reconciler.run()  # steady state: every pool's id known, its placeholder registered
    delivered.clear()
    model.stats.reset()
    target = "pool-07"
    model.queue_job(pool_ids[target])
    (event,) = [e for e in delivered if e["resource"]["job"]["state"] == "waiting"]
    body = json.dumps(event).encode()
    calls: Counter[str] = Counter()
    launched: Counter[str] = Counter()
    for name in pool_ids:  # one subscription per pool: the same event, once for each
        decision = validator.check(headers={SECRET_HEADER: SECRET}, query={POOL_PARAMETER: name}, body=body)
        assert decision.action == "run", decision
        before = model.stats.total
        report = reconciler.hook_pass(reconciler.pool(name))
        calls[name] = model.stats.total - before
        launched[name] = report.launched if report is not None else 0
    total = sum(calls.values())
    others = total - calls[target]
    print(
        f"\n{POOLS} pools, one job event: {total} ADO calls ({calls[target]} for its pool, {others} for the "
        f"{POOLS - 1} others: {others / (POOLS - 1):.1f} each); by route: {dict(model.stats.by_route)}"
    )
    assert launched[target] == 1 and sum(launched.values()) == 1
    # Each other pool costs one read (its job requests: nothing queued there), no lease, no other call.
    assert all(calls[name] == 1 for name in pool_ids if name != target), calls
    assert total <= calls[target] + POOLS - 1
