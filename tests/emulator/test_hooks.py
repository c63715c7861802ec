"""Service hooks: webHooks subscriptions and job-event delivery, in-process and over HTTP."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from adoscale_lab.emulator import AdoModel, make_app, serve
from adoscale_lab.emulator import hooks as hooks_module
from tests.conftest import ORG, PAT

Received = list[tuple[dict[str, str], dict[str, Any]]]


class _Receiver(BaseHTTPRequestHandler):
    received: Received
    delay_s = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.delay_s:
            time.sleep(self.delay_s)
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received, type[_Receiver]]]:
    received: Received = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received, handler
    finally:
        server.shutdown()
        server.server_close()


def _subscription(url: str, **inputs: str) -> dict[str, Any]:
    return {
        "publisherId": "pipelines",
        "eventType": "ms.vss-pipelines.job-state-changed-event",
        "resourceVersion": "5.1-preview.1",
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "publisherInputs": {},
        "consumerInputs": {"url": url, **inputs},
    }


def _auth() -> tuple[str, str]:
    return ("", PAT)


def test_in_process_subscribers_see_every_transition(model: AdoModel) -> None:
    events: list[dict[str, Any]] = []
    unsubscribe = model.subscribe(events.append)
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", {"docker": ""}, online=False)  # jobs wait for an agent, not fail
    job = model.queue_job(pool, ["docker"])
    model.register_agent(pool, "a1", {"docker": ""})
    model.finish_job(job)
    assert [(e["x-emulator"]["transition"], e["resource"]["job"]["state"]) for e in events] == [
        ("queued", "waiting"),
        ("assigned", "waiting"),
        ("started", "inProgress"),
        ("completed", "completed"),
    ]
    assert events[-1]["resource"]["job"]["result"] == "succeeded"
    assert events[0]["eventType"] == "ms.vss-pipelines.job-state-changed-event"
    unsubscribe()
    model.queue_job(pool)
    assert len(events) == 4


def test_http_subscription_delivers_with_basic_auth_and_headers(
    model: AdoModel, receiver: tuple[str, Received, type[_Receiver]]
) -> None:
    url, received, _ = receiver
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    app = make_app(model)
    with serve(app) as server:
        base = f"{server.url}/{ORG}/_apis/hooks/subscriptions"
        body = _subscription(
            url, basicAuthUsername="ado", basicAuthPassword="hook-secret", httpHeaders="X-Hook-Key:k1\nX-Other: two"
        )
        created = httpx.post(base, json=body, auth=_auth(), params={"api-version": "7.1"})
        assert created.status_code == 200, created.text
        sub = created.json()
        assert sub["consumerInputs"]["basicAuthPassword"] == "********"
        assert [s["id"] for s in httpx.get(base, auth=_auth()).json()["value"]] == [sub["id"]]

        job = model.queue_job(pool)
        model.register_agent(pool, "a1")
        model.finish_job(job)
        assert app.hooks.wait_idle(5)
        states = [payload["resource"]["job"]["state"] for _, payload in received]
        assert states == ["waiting", "waiting", "inProgress", "completed"]
        headers, payload = received[0]
        assert headers["authorization"] == "Basic " + base64.b64encode(b"ado:hook-secret").decode()
        assert (headers["x-hook-key"], headers["x-other"]) == ("k1", "two")
        assert payload["subscriptionId"] == sub["id"]

        assert httpx.delete(f"{base}/{sub['id']}", auth=_auth()).status_code == 204
        model.queue_job(pool)
        assert app.hooks.wait_idle(5)
        assert len(received) == 4
        assert httpx.get(f"{base}/{sub['id']}", auth=_auth()).status_code == 404


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://10.0.0.1/hook", "http://example.com/hook", "ftp://127.0.0.1/x"]
)
def test_only_loopback_receivers_are_accepted(model: AdoModel, url: str) -> None:
    app = make_app(model)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://emulator") as http:
        answer = http.post(f"/{ORG}/_apis/hooks/subscriptions", json=_subscription(url), auth=_auth())
    assert answer.status_code == 400
    assert answer.json()["typeKey"] == "InvalidSubscriptionException"


def test_a_slow_receiver_never_blocks_the_model(
    monkeypatch: pytest.MonkeyPatch, model: AdoModel, receiver: tuple[str, Received, type[_Receiver]]
) -> None:
    url, _, handler = receiver
    handler.delay_s = 1.0
    monkeypatch.setattr(hooks_module, "DELIVERY_TIMEOUT_S", 0.2)
    pool = model.create_pool("linux")
    app = make_app(model)
    app.hooks.create(_subscription(url))
    started = time.monotonic()
    for _ in range(5):
        model.queue_job(pool)
    assert time.monotonic() - started < 0.2  # 5 events queued, none waited for
    assert app.hooks.wait_idle(30)
    failed = [d for d in app.hooks.deliveries if d.status is None]
    assert failed and all(d.attempts == hooks_module.ATTEMPTS for d in failed)  # bounded retries
    app.close()
