"""The client's behaviour against scripted answers (httpx.MockTransport): auth, errors, retries, paging."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from adoscale.ado import (
    AdoAuthError,
    AdoClient,
    AdoError,
    AdoNotFoundError,
    AdoThrottledError,
    AdoTimeoutError,
    AdoUnavailableError,
    RetryPolicy,
)

PAT = "s3cret-pat-value-42"
ORG = "https://dev.azure.com/contoso"

Handler = Callable[[httpx.Request], httpx.Response]


def _envelope(type_key: str, message: str) -> dict[str, object]:
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"X.{type_key}, X",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _client(handler: Handler, fake: FakeTime | None = None, **kwargs: object) -> tuple[AdoClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    fake = fake or FakeTime()
    client = AdoClient(
        ORG,
        PAT,
        http=httpx.Client(transport=httpx.MockTransport(record)),
        sleep=fake.sleep,
        clock=fake.clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return client, seen


def test_sends_basic_auth_with_empty_user_and_suppresses_redirect() -> None:
    client, seen = _client(lambda r: httpx.Response(200, json={"count": 1, "value": [{"id": 7, "name": "linux"}]}))
    assert client.get_pool("linux").id == 7
    request = seen[0]
    assert request.headers["X-TFS-FedAuthRedirect"] == "Suppress"
    assert request.headers["Authorization"] == httpx.BasicAuth("", PAT)._auth_header
    assert request.url.params["poolName"] == "linux"
    assert request.url.params["api-version"] == "7.1"


@pytest.mark.parametrize("status", [203, 401])
def test_refused_pat_fails_fast_without_retry_and_names_the_problem(status: int) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        if status == 203:
            return httpx.Response(203, text="<html>Sign In</html>", headers={"content-type": "text/html"})
        return httpx.Response(401, json=_envelope("UnauthorizedRequestException", "TF400813: not authorized"))

    fake = FakeTime()
    client, seen = _client(answer, fake)
    with pytest.raises(AdoAuthError) as caught:
        client.get_pool("linux")
    assert len(seen) == 1 and fake.sleeps == []
    message = str(caught.value)
    assert "invalid, expired, or lacks a scope" in message
    assert "Agent Pools (read & manage)" in message and "Environment (read & manage)" in message
    assert PAT not in message


def test_not_found_carries_ado_message_and_type_key() -> None:
    client, seen = _client(
        lambda r: httpx.Response(
            404, json=_envelope("TaskAgentPoolNotFoundException", "No agent pool found with identifier 3.")
        )
    )
    with pytest.raises(AdoNotFoundError) as caught:
        client.list_agents(3)
    assert caught.value.type_key == "TaskAgentPoolNotFoundException"
    assert "No agent pool found with identifier 3." in str(caught.value)
    assert len(seen) == 1


def test_other_4xx_fails_at_once() -> None:
    fake = FakeTime()
    client, seen = _client(lambda r: httpx.Response(400, json=_envelope("ArgumentException", "bad")), fake)
    with pytest.raises(AdoError, match="ArgumentException: bad"):
        client.list_job_requests(1)
    assert len(seen) == 1 and fake.sleeps == []


def test_429_waits_for_retry_after_then_succeeds() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}, json=_envelope("RequestBlockedException", "TF400733")),
            httpx.Response(200, json={"count": 0, "value": []}),
        ]
    )
    fake = FakeTime()
    client, seen = _client(lambda r: next(answers), fake)
    assert client.list_job_requests(1) == []
    assert len(seen) == 2
    assert fake.sleeps and fake.sleeps[0] >= 3.0
    assert client.stats.retries == 1


def test_5xx_retries_until_the_deadline_then_says_so() -> None:
    fake = FakeTime()
    client, seen = _client(
        lambda r: httpx.Response(503, json=_envelope("ServiceUnavailable", "down")),
        fake,
        retry=RetryPolicy(deadline_s=5.0, base_s=0.5, cap_s=2.0),
    )
    with pytest.raises(AdoUnavailableError, match="gave up"):
        client.list_agents(1)
    assert len(seen) > 2
    assert fake.now <= 5.0


def test_persistent_429_is_reported_as_throttled() -> None:
    fake = FakeTime()
    client, _ = _client(
        lambda r: httpx.Response(429, headers={"Retry-After": "2"}),
        fake,
        retry=RetryPolicy(deadline_s=5.0),
    )
    with pytest.raises(AdoThrottledError):
        client.list_agents(1)


def test_connection_errors_are_retried() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"count": 0, "value": []})

    client, _ = _client(flaky)
    assert client.list_agents(1) == []
    assert calls["n"] == 3


def test_job_requests_never_send_top_and_ask_for_unfinished_only() -> None:
    client, seen = _client(lambda r: httpx.Response(200, json={"count": 0, "value": []}))
    client.list_job_requests(44)
    params = seen[0].url.params
    assert params["completedRequestCount"] == "0"
    assert "$top" not in params
    assert params["api-version"].endswith("-preview.1")


def test_lists_follow_continuation_tokens() -> None:
    pages = {
        None: ({"count": 2, "value": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}, "tok-2"),
        "tok-2": ({"count": 1, "value": [{"id": 3, "name": "c"}]}, None),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        body, token = pages[request.url.params.get("continuationToken")]
        headers = {"x-MS-ContinuationToken": token} if token else {}
        return httpx.Response(200, json=body, headers=headers)

    client, seen = _client(answer)
    names = [r.name for r in client.list_vm_resources("proj", 7)]
    assert names == ["a", "b", "c"]
    assert len(seen) == 2


def test_pool_lookup_needs_exactly_one_match() -> None:
    client, _ = _client(lambda r: httpx.Response(200, json={"count": 0, "value": []}))
    with pytest.raises(AdoNotFoundError, match="no agent pool named 'linux'"):
        client.get_pool("linux")
    two = {"count": 2, "value": [{"id": 1, "name": "linux"}, {"id": 2, "name": "linux", "poolType": "deployment"}]}
    client, _ = _client(lambda r: httpx.Response(200, json=two))
    with pytest.raises(AdoError, match=r"2 agent pools match 'linux'.*id 1.*id 2"):
        client.get_pool("linux")


def test_delete_of_missing_agent_is_success() -> None:
    client, _ = _client(lambda r: httpx.Response(404, json=_envelope("TaskAgentNotFoundException", "gone")))
    assert client.delete_agent(1, 2) is False
    client, seen = _client(lambda r: httpx.Response(204))
    assert client.delete_agent(1, 2) is True
    assert seen[0].method == "DELETE"


def test_parallel_limit_is_optional_and_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = _client(lambda r: httpx.Response(404, json=_envelope("NotFound", "no such thing")))
    with caplog.at_level(logging.WARNING, logger="adoscale.ado"):
        assert client.parallel_job_limit() is None
        assert client.parallel_job_limit() is None
    assert sum("parallel-job limit unavailable" in r.getMessage() for r in caplog.records) == 1


def test_rate_limit_headers_on_success_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = _client(
        lambda r: httpx.Response(
            200,
            json={"count": 0, "value": []},
            headers={"X-RateLimit-Delay": "0.5", "X-RateLimit-Remaining": "3", "X-RateLimit-Limit": "200"},
        )
    )
    with caplog.at_level(logging.WARNING, logger="adoscale.ado"):
        client.list_agents(1)
    assert any("rate-limiting" in r.getMessage() for r in caplog.records)


def test_the_pat_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    def leaky(_: httpx.Request) -> httpx.Response:
        # A hostile or buggy server echoing the credential back must not make adoscale print it.
        return httpx.Response(400, json=_envelope("ArgumentException", f"bad token {PAT}"))

    client, _ = _client(leaky)
    with caplog.at_level(logging.DEBUG), pytest.raises(AdoError) as caught:
        client.list_agents(1)
    assert PAT not in str(caught.value)
    assert all(PAT not in record.getMessage() for record in caplog.records)


def test_retry_after_on_a_success_is_waited_before_the_next_call() -> None:
    fake = FakeTime()
    client, seen = _client(
        lambda r: httpx.Response(200, json={"count": 0, "value": []}, headers={"Retry-After": "3"}), fake
    )
    client.list_agents(1)
    assert fake.sleeps == []  # the answer itself is used at once
    client.list_agents(1)
    assert fake.sleeps == [3.0]  # the next call waits what the service asked
    assert len(seen) == 2


def test_low_rate_limit_budget_paces_the_client() -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "2", "X-RateLimit-Limit": "200", "X-RateLimit-Delay": "1.5"}
    client, _ = _client(lambda r: httpx.Response(200, json={"count": 0, "value": []}, headers=headers), fake)
    client.list_agents(1)
    client.list_agents(1)
    assert fake.sleeps == [1.5]
    plenty = {"X-RateLimit-Remaining": "150", "X-RateLimit-Limit": "200"}
    fake2 = FakeTime()
    calm, _ = _client(lambda r: httpx.Response(200, json={"count": 0, "value": []}, headers=plenty), fake2)
    calm.list_agents(1)
    calm.list_agents(1)
    assert fake2.sleeps == []


def test_bounded_refuses_a_call_once_time_is_up_without_a_request() -> None:
    fake = FakeTime()
    client, seen = _client(lambda r: httpx.Response(200, json={"count": 0, "value": []}), fake)
    with client.bounded(5):
        client.list_agents(1)
        fake.now += 5
        with pytest.raises(AdoTimeoutError, match="agents"):
            client.list_agents(1)
    assert len(seen) == 1
    client.list_agents(1)  # outside the block, calls go out again
    assert len(seen) == 2


def test_bounded_cuts_retries_short_of_the_policy_deadline() -> None:
    fake = FakeTime()
    client, seen = _client(
        lambda r: httpx.Response(503, json=_envelope("ServiceUnavailableException", "down")),
        fake,
        retry=RetryPolicy(deadline_s=60, base_s=1, cap_s=1),
        rng=__import__("random").Random(1),
    )
    with client.bounded(3), pytest.raises(AdoUnavailableError):
        client.list_agents(1)
    assert fake.now < 3
    assert sum(fake.sleeps) < 3 and len(seen) >= 2


def test_repeated_continuation_token_raises() -> None:
    client, seen = _client(
        lambda r: httpx.Response(
            200, json={"count": 1, "value": [{"id": 1, "name": "a"}]}, headers={"x-ms-continuationtoken": "same"}
        )
    )
    with pytest.raises(AdoError, match="repeated continuation token"):
        client.list_agents(1)
    assert len(seen) == 2
