"""Service hooks: webHooks subscriptions and the delivery of job events to them.

The model publishes `JobEvent`s; the service subscribes to them and renders each as the documented
payload (`notifications.job_state_changed`) for the subscriptions that want it. Delivery runs on one background
thread with a bounded queue, a timeout per POST and at most `ATTEMPTS` tries, so a slow or dead receiver
never blocks the model or piles up work. Only loopback URLs are accepted: the emulator is a test tool and
must not post anywhere else.
"""

from __future__ import annotations

import base64
import itertools
import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from adoscale_lab.emulator.entities import Clock
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.events import EventBus, JobEvent
from adoscale_lab.emulator.notifications import job_state_changed
from adoscale_lab.emulator.wire import timestamp

log = logging.getLogger("adoscale_lab.emulator.hooks")

JSON = dict[str, Any]
PUBLISHERS = frozenset({"pipelines", "tfs"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
DELIVERY_TIMEOUT_S = 2.0
ATTEMPTS = 2
QUEUE_BOUND = 1000
DELIVERIES_KEPT = 500


@dataclass
class Subscription:
    id: str
    publisher_id: str
    event_type: str
    resource_version: str
    consumer_id: str
    consumer_action_id: str
    publisher_inputs: dict[str, str]
    consumer_inputs: dict[str, str]
    created_date: str

    def to_json(self) -> JSON:
        inputs = dict(self.consumer_inputs)
        if "basicAuthPassword" in inputs:
            inputs["basicAuthPassword"] = "********"  # the service never echoes secrets back
        return {
            "id": self.id,
            "status": "enabled",
            "publisherId": self.publisher_id,
            "eventType": self.event_type,
            "resourceVersion": self.resource_version,
            "consumerId": self.consumer_id,
            "consumerActionId": self.consumer_action_id,
            "publisherInputs": dict(self.publisher_inputs),
            "consumerInputs": inputs,
            "createdDate": self.created_date,
            "modifiedDate": self.created_date,
            "url": f"/_apis/hooks/subscriptions/{self.id}",
        }

    def wants(self, event: JSON) -> bool:
        if event["eventType"] != self.event_type or event["publisherId"] != self.publisher_id:
            return False
        project = self.publisher_inputs.get("projectId")
        if project and project.lower() != str(event["resource"]["projectId"]).lower():
            return False
        state = self.publisher_inputs.get("jobStateId")  # inferred input name, see the wire reference
        return not state or state.lower() == str(event["resource"]["job"]["state"]).lower()

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        for line in self.consumer_inputs.get("httpHeaders", "").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                headers[key.strip()] = value.strip()
        user = self.consumer_inputs.get("basicAuthUsername")
        password = self.consumer_inputs.get("basicAuthPassword")
        if user is not None or password is not None:
            token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers


@dataclass
class Delivery:
    subscription_id: str
    url: str
    transition: str
    request_id: int
    status: int | None = None
    error: str | None = None
    attempts: int = 0


@dataclass
class HookService:
    """Subscriptions over HTTP, delivered from one background thread.

    `events` is the model's event bus and `clock` its clock: all the service needs of the model.
    """

    events: EventBus
    clock: Clock
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=DELIVERIES_KEPT))
    dropped: int = 0
    _queue: queue.Queue[tuple[Subscription, JSON] | None] = field(
        default_factory=lambda: queue.Queue(maxsize=QUEUE_BOUND)
    )
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _unsubscribe: Callable[[], None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _pending: int = 0

    def create(self, body: JSON) -> Subscription:
        publisher = str(body.get("publisherId", ""))
        consumer = str(body.get("consumerId", ""))
        inputs = {str(k): str(v) for k, v in (body.get("consumerInputs") or {}).items()}
        if publisher not in PUBLISHERS:
            raise _bad("publisherId", f"Publisher '{publisher}' is not supported by the emulator (pipelines, tfs).")
        if consumer != "webHooks":
            raise _bad("consumerId", f"Consumer '{consumer}' is not supported by the emulator (webHooks).")
        url = inputs.get("url", "")
        parts = urlsplit(url)
        if parts.scheme != "http" or (parts.hostname or "") not in LOOPBACK_HOSTS:
            raise _bad("url", f"The emulator delivers only to http://127.0.0.1 or http://localhost, not '{url}'.")
        subscription = Subscription(
            id=str(uuid.uuid4()),
            publisher_id=publisher,
            event_type=str(body.get("eventType", "")),
            resource_version=str(body.get("resourceVersion", "5.1-preview.1")),
            consumer_id=consumer,
            consumer_action_id=str(body.get("consumerActionId", "httpRequest")),
            publisher_inputs={str(k): str(v) for k, v in (body.get("publisherInputs") or {}).items()},
            consumer_inputs=inputs,
            created_date=timestamp(self.clock()),
        )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
            if self._unsubscribe is None:
                self._unsubscribe = self.events.subscribe(self._on_event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="emulator-hooks", daemon=True)
                self._thread.start()
        return subscription

    def get(self, subscription_id: str) -> Subscription:
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise EmulatorError(
                404,
                "SubscriptionNotFoundException",
                f"Subscription {subscription_id} does not exist.",
                "Microsoft.VisualStudio.Services.ServiceHooks.WebApi.SubscriptionNotFoundException",
            )
        return found

    def delete(self, subscription_id: str) -> None:
        self.get(subscription_id)
        with self._lock:
            self.subscriptions.pop(subscription_id, None)

    def _on_event(self, job_event: JobEvent) -> None:
        # Runs under the model's lock: only enqueue here, never post.
        subscriptions = list(self.subscriptions.values())
        if not subscriptions:
            return
        event = job_state_changed(job_event)
        for subscription in subscriptions:
            if not subscription.wants(event):
                continue
            payload = {**event, "subscriptionId": subscription.id, "notificationId": next(self._ids)}
            try:
                self._queue.put_nowait((subscription, payload))
            except queue.Full:
                self.dropped += 1  # hooks are lossy in the real service too
                continue
            with self._idle:
                self._pending += 1

    def _work(self) -> None:
        with httpx.Client(timeout=DELIVERY_TIMEOUT_S) as http:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                subscription, payload = item
                try:
                    self._deliver(http, subscription, payload)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _deliver(self, http: httpx.Client, subscription: Subscription, payload: JSON) -> None:
        marker = payload["x-emulator"]
        delivery = Delivery(
            subscription.id, subscription.consumer_inputs["url"], marker["transition"], marker["requestId"]
        )
        for _ in range(ATTEMPTS):
            delivery.attempts += 1
            try:
                response = http.post(delivery.url, json=payload, headers=subscription.headers())
            except httpx.HTTPError as exc:
                delivery.status, delivery.error = None, type(exc).__name__
                continue
            delivery.status, delivery.error = response.status_code, None
            if response.status_code < 500:
                break
        self.deliveries.append(delivery)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued delivery has been tried (for tests and the admin API)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            thread, self._thread = self._thread, None
        if thread is not None:
            # Drop what is still queued: shutdown must not wait on receivers.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(None)
            thread.join(timeout=DELIVERY_TIMEOUT_S * ATTEMPTS + 1)


def _bad(field_name: str, message: str) -> EmulatorError:
    return EmulatorError(
        400,
        "InvalidSubscriptionException",
        f"{message} ({field_name})",
        "Microsoft.VisualStudio.Services.ServiceHooks.WebApi.InvalidSubscriptionException",
    )
