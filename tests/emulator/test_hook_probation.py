"""Service-hook answers and what the service does with them: transient vs enduring, probation, re-sends, disabling.

The rules are Microsoft's service-hooks troubleshooting page ("Failures and probation"): 408/502/503/504 are
transient and retried; any other non-2xx puts the subscription on probation, where new events are lost and
the failed notification is re-sent after 20 min, 40 min, ...; a successful re-send ends the probation; after
about 36 h the subscription is disabled by the system. The emulator runs that on a compressed clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from adoscale_lab.emulator import AdoModel, make_app, serve
from adoscale_lab.emulator.app import EmulatorApp
from tests.conftest import ORG, PAT

# 20 service minutes are 12 ms, 36 service hours 1.3 s: the whole probation runs within a test.
FAST = 1 / 100_000


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers the statuses it is given, in order (then the last one)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[int, dict[str, Any]]] = []  # (status answered, payload)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    status = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                    outer.seen.append((status, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def statuses(self) -> list[int]:
        with self.lock:
            return [status for status, _ in self.seen]


@pytest.fixture
def receivers() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(answers: list[int]) -> Receiver:
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


def _subscribe(http: httpx.Client, url: str) -> str:
    body = {
        "publisherId": "pipelines",
        "eventType": "ms.vss-pipelines.job-state-changed-event",
        "resourceVersion": "5.1-preview.1",
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "consumerInputs": {"url": url},
    }
    answer = http.post(f"/{ORG}/_apis/hooks/subscriptions", json=body, auth=("", PAT))
    assert answer.status_code == 200, answer.text
    subscription_id: str = answer.json()["id"]
    return subscription_id


def _state(http: httpx.Client, subscription_id: str) -> dict[str, Any]:
    states = http.get("/_emulator/hooks/subscriptions").json()["value"]
    return next(s for s in states if s["id"] == subscription_id)


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def world(model: AdoModel) -> Iterator[tuple[AdoModel, EmulatorApp, httpx.Client, int]]:
    app = make_app(model)
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.put("/_emulator/hooks/clock", json={"timeScale": FAST}).status_code == 200
        pool = model.create_pool("linux")
        model.register_agent(pool, "placeholder", online=False)  # jobs wait rather than fail
        yield model, app, http, pool


def test_a_400_puts_the_subscription_on_probation_and_a_healthy_one_gets_every_event(
    world: tuple[AdoModel, EmulatorApp, httpx.Client, int], receivers: Callable[[list[int]], Receiver]
) -> None:
    model, app, http, pool = world
    bad, good = receivers([400]), receivers([200])
    bad_id, good_id = _subscribe(http, bad.url), _subscribe(http, good.url)
    http.put("/_emulator/hooks/clock", json={"timeScale": 1.0})  # real time: the re-send is 20 minutes away
    model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert _state(http, bad_id)["status"] == "onProbation" and bad.statuses() == [400]  # enduring: not retried
    for _ in range(3):
        model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert len(good.seen) == 4 and _state(http, good_id)["status"] == "enabled"
    state = _state(http, bad_id)
    assert (len(bad.seen), state["lost"], state["lastStatus"]) == (1, 3, 400)  # new events are lost
    assert 1199 <= state["nextResendInS"] <= 1200
    rest = http.get(f"/{ORG}/_apis/hooks/subscriptions/{bad_id}", auth=("", PAT)).json()
    assert rest["status"] == "onProbation"  # what `hooks list` reads


def test_re_sends_double_and_end_in_disabled_by_system(
    world: tuple[AdoModel, EmulatorApp, httpx.Client, int], receivers: Callable[[list[int]], Receiver]
) -> None:
    model, app, http, pool = world
    # 20 service minutes are 60 ms: a loaded machine's delays (counted as service time) stay far below the
    # 900 minutes that separate the 6th re-send's schedule from the 36-hour limit.
    http.put("/_emulator/hooks/clock", json={"timeScale": 1 / 20_000})
    receiver = receivers([500])
    subscription_id = _subscribe(http, receiver.url)
    first = model.queue_job(pool)
    _until(lambda: _state(http, subscription_id)["status"] == "disabledBySystem")
    # 20, 40, ... 640 minutes: 6 re-sends fit in 36 hours, the 7th would not; all of the same notification.
    assert receiver.statuses() == [500] * 7
    assert {body["resource"]["job"]["id"] for _, body in receiver.seen} == {
        receiver.seen[0][1]["resource"]["job"]["id"]
    }
    assert model.job(first).request_id == receiver.seen[0][1]["x-emulator"]["requestId"]
    model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert len(receiver.seen) == 7 and _state(http, subscription_id)["lost"] == 1  # disabled: nothing delivered
    repaired = http.put(
        f"/{ORG}/_apis/hooks/subscriptions/{subscription_id}", json={"status": "enabled"}, auth=("", PAT)
    )
    assert repaired.json()["status"] == "enabled"


def test_transient_answers_are_retried_and_a_good_re_send_ends_probation(
    world: tuple[AdoModel, EmulatorApp, httpx.Client, int], receivers: Callable[[list[int]], Receiver]
) -> None:
    model, app, http, pool = world
    transient = receivers([503, 504, 200])
    transient_id = _subscribe(http, transient.url)
    model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert transient.statuses() == [503, 504, 200] and _state(http, transient_id)["status"] == "enabled"
    http.delete(f"/{ORG}/_apis/hooks/subscriptions/{transient_id}", auth=("", PAT))

    recovering = receivers([401, 200])
    recovering_id = _subscribe(http, recovering.url)
    model.queue_job(pool)
    _until(lambda: recovering.statuses() == [401, 200])
    _until(lambda: _state(http, recovering_id)["status"] == "enabled")
    model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert recovering.statuses() == [401, 200, 200]


def test_410_disables_at_once(
    world: tuple[AdoModel, EmulatorApp, httpx.Client, int], receivers: Callable[[list[int]], Receiver]
) -> None:
    model, app, http, pool = world
    gone = receivers([410])
    gone_id = _subscribe(http, gone.url)
    model.queue_job(pool)
    assert app.hooks.wait_idle(5)
    assert _state(http, gone_id)["status"] == "disabledBySystem" and gone.statuses() == [410]
