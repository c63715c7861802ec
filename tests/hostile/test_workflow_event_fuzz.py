"""Arbitrary and mutated events into the workflow's Lambdas (`pass_`: round and pass; `waiter`), deployed as
they run: moto for ECS and the lease table, the ADO emulator over HTTP.

For Step Functions a rejection is a `BadEventError` raised after a logged reason: it is not in the Retry list
(`adoscale.transient`), so the state fails once and the workflow's Catch alerts naming the pool — never a
retry loop. So every invocation ends in a normal result, that logged rejection, or a transient error, and
no output holds the PAT.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adoscale.handlers import _runtime, pass_, waiter
from adoscale.handlers._control import BadEventError
from adoscale.transient import TRANSIENT_ERRORS
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.conftest import PAT
from tests.workflow.test_workflow import Context

REAL_EVENTS: list[tuple[Any, dict[str, Any]]] = [
    (pass_.handler, {"action": "round", "offset": 15, "task_wait_s": 10}),
    (pass_.handler, {"action": "pass", "pool": "linux", "parallel": {"total": 5, "running_by_pool": {"1": 2}}}),
    (pass_.handler, {"action": "pass", "pool": "linux", "parallel": None, "task_wait_s": 10}),
    (
        waiter.handler,
        {"pool": "linux", "launched": ["arn:aws:ecs:us-east-1:123456789012:task/c/abc"], "wait_rounds": 0},
    ),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture
def deployed(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with ecs_world() as (_ecs, world):
        _runtime.client.cache_clear()
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
        config = config_for(world, org_url, [{"name": "linux", "max_agents": 3}])
        monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
        monkeypatch.setenv("AZP_TOKEN", PAT)
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
        pool = model.create_pool("linux")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.queue_job(pool)
        yield
    _runtime.client.cache_clear()


def _invoke(handler: Any, event: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    try:
        result = handler(event, Context("adoscale-fuzz"))
    except BadEventError:
        logged = [r for r in caplog.records if r.getMessage() == "bad event"]
        assert logged, "the reason is logged before the state fails"
    except TRANSIENT_ERRORS:
        pass
    else:
        assert isinstance(result, dict)
    out = capsys.readouterr()
    assert PAT not in out.out + out.err + caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=json_values, which=st.sampled_from([pass_.handler, waiter.handler]))
def test_arbitrary_events_are_results_rejections_or_transient(
    deployed: None, event: Any, which: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _invoke(which, event, capsys, caplog)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(min_value=0, max_value=len(REAL_EVENTS) - 1),
    key=st.text(min_size=1, max_size=12) | st.sampled_from(["action", "pool", "round", "parallel", "launched"]),
    value=json_values,
)
def test_mutated_real_events_are_results_rejections_or_transient(
    deployed: None,
    index: int,
    key: str,
    value: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, real = REAL_EVENTS[index]
    event = copy.deepcopy(real)
    event[key] = value
    _invoke(handler, event, capsys, caplog)
