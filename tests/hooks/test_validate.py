"""The pure validator: every rejection with its status and reason, and nothing but `HookRejected` escapes,
whatever the body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoscale.config import Settings, SourceError, parse_config
from adoscale.hooks import MAX_BODY_BYTES, HookRejected, HookValidator, SeenIds, resolve_hook_secret
from tests.hooks.payloads import SECRET, basic, body, job_event

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


def test_an_unknown_or_missing_pool_is_400_after_authentication() -> None:
    v = validator()
    assert "unknown pool" in rejected(v, job_event(created=NOW), pool="windows").reason
    assert rejected(v, job_event(created=NOW), pool="windows", headers={}).status == 401  # nothing learnt
    with pytest.raises(HookRejected, match="no \\?pool="):
        v.check(headers=basic(SECRET), query={}, body=body(job_event(created=NOW)))


def test_a_replayed_delivery_is_refused_but_the_same_event_for_another_pool_is_not() -> None:
    v = validator()
    event = job_event(created=NOW)
    assert check(v, event).action == "run"
    again = rejected(v, event)
    assert again.status == 400 and "replayed" in again.reason
    assert check(v, event, pool="gpu").action == "run"  # one subscription per pool: each is delivered


def test_stale_and_future_events_are_refused() -> None:
    v = validator()
    stale = rejected(v, job_event(created=NOW - timedelta(minutes=6)))
    assert stale.status == 400 and "stale" in stale.reason
    assert check(v, job_event(created=NOW - timedelta(minutes=4))).action == "run"
    assert "future" in rejected(v, job_event(created=NOW + timedelta(minutes=5))).reason


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
        assert auth == "good" and decision.pool in ("linux", "gpu") and decision.action in ("run", "ignore")
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


_event_values = st.one_of(_json, st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=4))


@given(
    event=st.one_of(
        _json,
        st.fixed_dictionaries(
            {},
            optional={
                "headers": _event_values,
                "queryStringParameters": _event_values,
                "body": _json,
                "isBase64Encoded": _json,
            },
        ),
    )
)
def test_any_lambda_event_is_read_or_rejected_as_documented(event: Any) -> None:
    from adoscale.handlers.hook import _request

    try:
        headers, query, data = _request(event)
    except HookRejected as exc:
        status: int = exc.status
    else:
        assert isinstance(data, bytes) and all(isinstance(v, str) for v in (*headers.values(), *query.values()))
        return
    assert status in (400, 413)
