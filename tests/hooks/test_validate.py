"""The pure validator: every rejection with its status and reason, and nothing but `HookRejected` escapes,
whatever the body."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.config import Settings, SourceError, parse_config
from adoscale.hooks import MAX_BODY_BYTES, HookRejected, HookValidator, SeenIds, resolve_hook_secret
from tests.hooks.payloads import SECRET, basic, body, http_event, job_event

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def validator(**kwargs: Any) -> HookValidator:
    return HookValidator(SECRET, ["linux", "gpu"], clock=lambda: NOW, **kwargs)


def check(v: HookValidator, event: Any, headers: dict[str, str] | None = None, pool: str = "linux") -> Any:
    data = event if isinstance(event, bytes) else body(event)
    return v.check(headers=basic(SECRET) if headers is None else headers, query={"pool": pool}, body=data)


def rejected(v: HookValidator, event: Any, **kwargs: Any) -> HookRejected:
    with pytest.raises(HookRejected) as caught:
        check(v, event, **kwargs)
    return caught.value


def test_a_waiting_job_runs_its_pool_by_basic_auth_or_header() -> None:
    v = validator()
    decision = check(v, job_event(created=NOW))
    assert (decision.action, decision.pool) == ("run", "linux")
    by_header = check(v, job_event(created=NOW), headers={"x-adoscale-hook-secret": SECRET}, pool="gpu")
    assert (by_header.action, by_header.pool) == ("run", "gpu")


def test_other_states_and_event_types_are_acknowledged_and_ignored() -> None:
    v = validator()
    assert check(v, job_event("inProgress", created=NOW)).action == "ignore"
    assert check(v, job_event("completed", created=NOW)).action == "ignore"
    other = {**job_event(created=NOW), "eventType": "ms.vss-pipelines.run-state-changed-event"}
    assert check(v, other).action == "ignore"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong-secret-0123456789abcdef"),
        basic(SECRET[:-1]),
        {"authorization": "Basic !!!not-base64"},
        {"authorization": "Bearer " + SECRET},
        {"x-adoscale-hook-secret": SECRET + "x"},
        {"x-adoscale-hook-secret": "é" * 20},
    ],
)
def test_a_forged_secret_is_401(headers: dict[str, str]) -> None:
    assert rejected(validator(), job_event(created=NOW), headers=headers).status == 401


def test_an_unconfigured_pool_is_acknowledged_and_a_missing_one_is_400_after_authentication() -> None:
    """Issue 21 item 3: a pool no longer configured is answered 2xx (ignored), never a refusal that puts the
    subscription on probation; without credentials the caller still learns nothing (401)."""
    v = validator()
    unknown = check(v, job_event(created=NOW), pool="windows")
    assert (unknown.action, unknown.pool) == ("ignore", "windows") and "not configured" in unknown.reason
    assert rejected(v, job_event(created=NOW), pool="windows", headers={}).status == 401  # nothing learnt
    with pytest.raises(HookRejected, match="no \\?pool="):
        v.check(headers=basic(SECRET), query={}, body=body(job_event(created=NOW)))


def test_a_replayed_delivery_is_acknowledged_without_a_pass_and_the_same_event_for_another_pool_runs() -> None:
    """A re-send (the service re-sends after a failure, 20 min, 40 min ... later) is 2xx: it was handled."""
    v = validator()
    event = job_event(created=NOW)
    assert check(v, event).action == "run"
    again = check(v, event)
    assert again.action == "ignore" and "replayed" in again.reason
    assert check(v, event, pool="gpu").action == "run"  # one subscription per pool: each is delivered


def test_stale_and_future_events_are_acknowledged_without_a_pass() -> None:
    v = validator()
    stale = check(v, job_event(created=NOW - timedelta(minutes=20)))
    assert stale.action == "ignore" and "stale" in stale.reason
    assert check(v, job_event(created=NOW - timedelta(minutes=4))).action == "run"
    future = check(v, job_event(created=NOW + timedelta(minutes=5)))
    assert future.action == "ignore" and "future" in future.reason


def test_oversized_bodies_are_413_before_parsing() -> None:
    with pytest.raises(HookRejected) as declared:
        HookValidator.check_length(10 * 1024 * 1024)
    assert declared.value.status == 413
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert rejected(validator(), big, headers={}).status == 413  # before authentication, even


def test_seen_ids_are_bounded_in_number_and_in_time() -> None:
    now = [0.0]
    seen = SeenIds(window_s=10, capacity=3, monotonic=lambda: now[0])
    for n in range(5):
        assert seen.first_time(("p", str(n)))
    assert len(seen) == 3
    assert not seen.first_time(("p", "4"))
    now[0] = 11
    assert seen.first_time(("p", "4"))  # its window passed: the age check refuses such an event anyway
    assert len(seen) == 1


def test_the_secret_comes_from_the_environment_first_and_must_be_long() -> None:
    cfg = parse_config('{"organization_url": "https://dev.azure.com/acme", "hooks": {"secret_name": "h/s"}}')

    class Reader:
        def secret(self, name: str) -> str:
            assert name == "h/s"
            return json.dumps({"secret": "from-secrets-manager-0123"})

        def parameter(self, name: str) -> str:
            raise AssertionError

    assert resolve_hook_secret(cfg, Settings(hook_secret=SECRET), source=Reader()) == SECRET
    assert resolve_hook_secret(cfg, Settings(), source=Reader()) == "from-secrets-manager-0123"
    with pytest.raises(SourceError, match="at least 16"):
        resolve_hook_secret(cfg, Settings(hook_secret="short"))
    with pytest.raises(SourceError, match="no hook secret"):
        resolve_hook_secret(None, Settings())


# -- anything at all ------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_keys = ["id", "eventType", "createdDate", "resource", "notificationId", "subscriptionId"]


@st.composite
def _mangled(draw: st.DrawFn) -> Any:
    """A valid event with one field (top level or in the job) replaced by arbitrary JSON, or removed."""
    event = job_event(created=NOW)
    target = event if draw(st.booleans()) else event["resource"]["job"]
    key = draw(st.sampled_from([*_keys, "state", "job"]))
    if draw(st.booleans()):
        target[key] = draw(_json)
    else:
        target.pop(key, None)
    return event


@given(
    payload=_json | _mangled(),
    raw=st.none() | st.binary(max_size=200),
    pool=st.text(max_size=20),
    auth=st.sampled_from(["good", "none", "bad"]),
)
def test_any_body_ends_in_a_decision_or_the_documented_rejection(
    payload: Any, raw: bytes | None, pool: str, auth: str
) -> None:
    v = validator()
    headers = {"good": basic(SECRET), "none": {}, "bad": basic("x" * 20)}[auth]
    data = raw if raw is not None else json.dumps(payload).encode()
    outcome: HookRejected | None = None
    try:
        decision = v.check(headers=headers, query={"pool": pool or "linux"}, body=data)
    except HookRejected as exc:
        outcome = exc
    if outcome is None:
        assert auth == "good" and decision.action in ("run", "ignore")
        # A pool not configured here is acknowledged (2xx), never run.
        assert decision.pool in ("linux", "gpu") or decision.action == "ignore"
    else:
        assert outcome.status in ((400, 401, 413) if auth == "good" else (401, 413)) and outcome.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser's recursion: still a clean 400
        b'{"id": "\xff\xfe"}',
        b'{"id": "a", "createdDate": "2026-11-25T03:00:00Z", "eventType": "x", "notificationId": 1'
        + b"9" * 5000
        + b"}",
        b"",
        b"null",
    ],
)
def test_hostile_bodies_are_a_400(raw: bytes) -> None:
    assert rejected(validator(), raw).status == 400


_MANGLED_KEYS = ["headers", "queryStringParameters", "body", "isBase64Encoded", "requestContext", "rawPath", "version"]


@st.composite
def _lambda_events(draw: st.DrawFn) -> Any:
    """A delivery as API Gateway sends it, with one or two of its fields replaced by arbitrary JSON or removed."""
    event: dict[str, Any] = http_event(body(job_event(created=NOW)), basic(SECRET))
    for key in draw(st.lists(st.sampled_from(_MANGLED_KEYS), min_size=1, max_size=2, unique=True)):
        if draw(st.booleans()):
            event[key] = draw(_json)
        else:
            event.pop(key)
    return event


CONFIG = {
    "organization_url": "https://dev.azure.com/acme",
    "hooks": {"secret_name": "unused"},
    "pools": [
        {
            "name": "linux",
            "ecs": {
                "cluster": "c",
                "task_definition": "t",
                "container_name": "agent",
                "subnets": ["subnet-1"],
                "security_groups": ["sg-1"],
            },
        }
    ],
}


@settings(max_examples=150, deadline=None)
@given(event=_json | _lambda_events())
def test_any_lambda_event_is_answered_as_documented_and_never_raises(event: Any) -> None:
    """Whatever reaches the hook function (a hostile caller, a broken integration), it answers a status from the
    documented set and never raises (a raise is a 5xx, which puts the subscription on probation). The queue is
    made to fail, so a delivery that survives its mangling shows the internal-failure answer (202)."""
    from adoscale.handlers import _runtime, hook
    from tests.workflow.test_workflow import Context

    env = {"ADOSCALE_CONFIG": json.dumps(CONFIG), "ADOSCALE_HOOK_SECRET": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}
    with mock.patch.dict(os.environ, env), mock.patch.object(hook, "_requests", side_effect=RuntimeError("no queue")):
        _runtime.clear_cache()
        answer = hook.handler(event, Context("adoscale-hook"))
    assert answer["statusCode"] in (202, 400, 401, 404, 413)
    assert isinstance(json.loads(answer["body"]).get("status"), str)
