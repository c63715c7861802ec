"""Service hooks: webHooks subscriptions and the delivery of job events to them.

The model publishes `JobEvent`s; the service subscribes to them and renders each as the documented
payload (`notifications.job_state_changed`) for the subscriptions that want it. Delivery runs on one background
thread with a bounded queue and a timeout per POST, so a slow or dead receiver never blocks the model or piles
up work. Only loopback URLs are accepted: the emulator is a test tool and must not post anywhere else.

What the service does with the answers (Microsoft's service-hooks troubleshooting page, "Failures and
probation"): 2xx is delivered; 408, 502, 503, 504 and no answer are transient and retried; any other status is
an enduring failure. An enduring failure, or a transient one that persists, puts the subscription **on
probation**: new events for it are lost, the failed notification is re-sent after 20 minutes, then 40, 80 ...
minutes, a successful re-send ends the probation, and after about 36 hours the subscription is disabled
(`disabledBySystem`). 410 Gone disables it at once (inferred from the same page). The emulator runs those
minutes on a compressed clock: `time_scale` real seconds per service second (default 1/600: 20 minutes are
2 seconds, 36 hours are 3.6 minutes).
"""

from __future__ import annotations

import base64
import heapq
import itertools
import logging
import queue
import threading
import time
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
ATTEMPTS = 3  # tries of one notification while its failures are transient
TRANSIENT = frozenset({408, 502, 503, 504})
RESEND_AFTER_S = 20 * 60.0  # the first re-send on probation, in service seconds; each next one doubles
DISABLE_AFTER_S = 36 * 3600.0  # a probation this long (service seconds) ends with the subscription disabled
TIME_SCALE = 1 / 600  # real seconds per service second: the compressed clock of probation and re-sends
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
    status: str = "enabled"  # enabled, onProbation, disabledBySystem (the service's SubscriptionStatus)
    probation_since: float | None = None  # monotonic, when probation began
    resends: int = 0  # re-sends made during this probation
    next_resend: float | None = None  # monotonic, when the failed notification is re-sent
    lost: int = 0  # events not delivered because the subscription was on probation or disabled
    last_status: int | None = None  # the consumer's last answer (None: no answer)

    def state_json(self, now: float, time_scale: float) -> JSON:
        """The delivery state, for the admin API (service seconds)."""
        return {
            "id": self.id,
            "status": self.status,
            "url": self.consumer_inputs.get("url", ""),
            "resends": self.resends,
            "lost": self.lost,
            "lastStatus": self.last_status,
            "probationForS": None
            if self.probation_since is None
            else round((now - self.probation_since) / time_scale, 1),
            "nextResendInS": None
            if self.next_resend is None
            else round(max(0.0, self.next_resend - now) / time_scale, 1),
        }

    def to_json(self) -> JSON:
        inputs = dict(self.consumer_inputs)
        if "basicAuthPassword" in inputs:
            inputs["basicAuthPassword"] = "********"  # the service never echoes secrets back
        return {
            "id": self.id,
            "status": self.status,
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
    resend: bool = False  # a re-send of a notification that failed before (the subscription is on probation)


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
    time_scale: float = TIME_SCALE  # real seconds per service second (probation's compressed clock)
    monotonic: Callable[[], float] = time.monotonic
    # Re-sends due on probation: (when, sequence, subscription id, payload), earliest first.
    _resends: list[tuple[float, int, str, JSON]] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

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

    def update(self, subscription_id: str, body: JSON) -> Subscription:
        """PUT on a subscription: new inputs, and `status: enabled` ends a probation or a disabling (what
        `hooks install` does to repair one)."""
        subscription = self.get(subscription_id)
        with self._lock:
            if isinstance(body.get("consumerInputs"), dict):
                inputs = {str(k): str(v) for k, v in body["consumerInputs"].items()}
                if inputs.get("basicAuthPassword") == "********":  # the masked value sent back: keep the secret
                    inputs["basicAuthPassword"] = subscription.consumer_inputs.get("basicAuthPassword", "")
                subscription.consumer_inputs = inputs
            if isinstance(body.get("publisherInputs"), dict):
                subscription.publisher_inputs = {str(k): str(v) for k, v in body["publisherInputs"].items()}
            if body.get("status", "enabled") == "enabled":
                self._end_probation(subscription)
        return subscription

    def states(self) -> list[JSON]:
        """Every subscription's delivery state (status, probation, re-sends, lost events), for the admin API."""
        now = self.monotonic()
        with self._lock:
            return [sub.state_json(now, self.time_scale) for sub in self.subscriptions.values()]

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
            if subscription.status != "enabled":
                subscription.lost += 1  # on probation or disabled: "any new events are lost"
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
                with self._lock:
                    wait = max(0.0, self._resends[0][0] - self.monotonic()) if self._resends else None
                item: tuple[Subscription, JSON] | bool | None
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    item = False  # a re-send is due
                if item is None:
                    return
                if isinstance(item, tuple):
                    subscription, payload = item
                    try:
                        self._deliver(http, subscription, payload)
                    finally:
                        with self._idle:
                            self._pending -= 1
                            self._idle.notify_all()
                self._resend_due(http)

    def _post(self, http: httpx.Client, subscription: Subscription, payload: JSON, delivery: Delivery) -> bool:
        """Try one notification: again while the failures are transient, at most ATTEMPTS times."""
        for _ in range(ATTEMPTS):
            delivery.attempts += 1
            try:
                response = http.post(delivery.url, json=payload, headers=subscription.headers())
            except httpx.HTTPError as exc:
                delivery.status, delivery.error = None, type(exc).__name__
                continue
            delivery.status, delivery.error = response.status_code, None
            if 200 <= response.status_code < 300:
                return True
            if response.status_code not in TRANSIENT:
                return False  # enduring: no retry
        return False

    def _deliver(self, http: httpx.Client, subscription: Subscription, payload: JSON, *, resend: bool = False) -> None:
        marker = payload["x-emulator"]
        delivery = Delivery(
            subscription.id, subscription.consumer_inputs["url"], marker["transition"], marker["requestId"]
        )
        delivery.resend = resend
        delivered = self._post(http, subscription, payload, delivery)
        self.deliveries.append(delivery)
        with self._lock:
            subscription.last_status = delivery.status
            if delivered:
                if resend:
                    self._end_probation(subscription)
                return
            if delivery.status == 410:
                self._disable(subscription)
                return
            self._probation(subscription, payload)

    def _probation(self, subscription: Subscription, payload: JSON) -> None:
        """Put on probation (or keep on it) and schedule the re-send; disable past DISABLE_AFTER_S (lock held)."""
        now = self.monotonic()
        if subscription.status == "disabledBySystem":
            return
        if subscription.status != "onProbation" or subscription.probation_since is None:
            subscription.status, subscription.probation_since, subscription.resends = "onProbation", now, 0
        delay = RESEND_AFTER_S * 2**subscription.resends
        if (now - subscription.probation_since) / self.time_scale + delay > DISABLE_AFTER_S:
            self._disable(subscription)
            return
        subscription.next_resend = now + delay * self.time_scale
        heapq.heappush(self._resends, (subscription.next_resend, next(self._sequence), subscription.id, payload))
        log.info("subscription %s on probation; re-send in %.0f s (service time)", subscription.id, delay)

    def _disable(self, subscription: Subscription) -> None:
        subscription.status, subscription.next_resend = "disabledBySystem", None
        self._resends = [r for r in self._resends if r[2] != subscription.id]
        heapq.heapify(self._resends)
        log.info("subscription %s disabled by the system", subscription.id)

    def _end_probation(self, subscription: Subscription) -> None:
        subscription.status, subscription.probation_since, subscription.next_resend = "enabled", None, None
        subscription.resends = 0
        self._resends = [r for r in self._resends if r[2] != subscription.id]
        heapq.heapify(self._resends)

    def _resend_due(self, http: httpx.Client) -> None:
        while True:
            with self._lock:
                if not self._resends or self._resends[0][0] > self.monotonic():
                    return
                _, _, subscription_id, payload = heapq.heappop(self._resends)
                subscription = self.subscriptions.get(subscription_id)
                if subscription is None or subscription.status != "onProbation":
                    continue
                subscription.resends += 1
                subscription.next_resend = None
            self._deliver(http, subscription, payload, resend=True)

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
