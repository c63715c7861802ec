"""Service hooks: webHooks subscriptions and the delivery of job events to them.

The payload follows "Run job state changed" (`ms.vss-pipelines.job-state-changed-event`, publisher
`pipelines`) as Microsoft documents it (../shared/ado-api/README.md §7). Delivery runs on one background
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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from adoscale.emulator.model import AdoModel, EmulatorError, Job
from adoscale.emulator.wire import timestamp

log = logging.getLogger("adoscale.emulator.hooks")

JSON = dict[str, Any]
JOB_STATE_CHANGED = "ms.vss-pipelines.job-state-changed-event"
PUBLISHERS = frozenset({"pipelines", "tfs"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
DELIVERY_TIMEOUT_S = 2.0
ATTEMPTS = 2
QUEUE_BOUND = 1000
DELIVERIES_KEPT = 500

# The service's job states (camelCase, as in the documented payload); "assigned" has no state of its own.
_STATES = {"queued": "waiting", "assigned": "waiting", "started": "inProgress", "completed": "completed"}


def _ts(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def job_event(model: AdoModel, job: Job, transition: str) -> JSON:
    """The `job-state-changed` payload for `job` after `transition` (queued, assigned, started, completed)."""
    base = f"https://dev.azure.com/{model.org}"
    project_id = job.project_id or "02696e26-a35b-424c-86b8-1f54e1b0b4b7"
    state = _STATES[transition]
    pipeline = {
        "url": f"{base}/{project_id}/_apis/Pipelines/{job.definition_id}?revision=1",
        "id": job.definition_id,
        "revision": 1,
        "name": f"pipeline-{job.definition_id}",
        "folder": "\\",
    }
    run_name = f"20250602.{job.build_id % 100}"
    text = f"Run {run_name} job __default is {state}."
    job_body: JSON = {
        "_links": {
            "web": {"href": f"{base}/{project_id}/_build/results?buildId={job.build_id}"},
            "pipeline.web": {"href": f"{base}/{project_id}/_build/definition?definitionId={job.definition_id}"},
        },
        "id": job.job_id,
        "name": "__default",
        "state": state,
        "startTime": _ts(job.receive_time),
        "finishTime": _ts(job.finish_time),
        "attempt": 1,
    }
    if job.result is not None:
        job_body["result"] = job.result
    return {
        "subscriptionId": None,  # filled in per delivery
        "notificationId": 0,
        "id": str(uuid.uuid4()),
        "eventType": JOB_STATE_CHANGED,
        "publisherId": "pipelines",
        "message": {"text": text, "html": text, "markdown": text},
        "detailedMessage": {"text": text, "html": text, "markdown": text},
        "resource": {
            "job": job_body,
            "stage": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, job.plan_id)), "name": "__default", "state": state},
            "run": {
                "pipeline": pipeline,
                "state": "completed" if state == "completed" else "inProgress",
                "createdDate": _ts(job.queue_time),
                "id": job.build_id,
                "name": run_name,
            },
            "pipeline": pipeline,
            "projectId": project_id,
        },
        "resourceVersion": "5.1-preview.1",
        "resourceContainers": {
            "collection": {"id": model.host_id},
            "account": {"id": model.host_id},
            "project": {"id": project_id},
        },
        "createdDate": _ts(model.clock()),
        # Not in the service's payload: what the emulator knows and a hook receiver may use in tests.
        "x-emulator": {"transition": transition, "requestId": job.request_id, "poolId": job.pool_id},
    }


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
    """Subscriptions over HTTP, delivered from one background thread."""

    model: AdoModel
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=DELIVERIES_KEPT))
    dropped: int = 0
    _queue: queue.Queue[tuple[Subscription, JSON] | None] = field(
        default_factory=lambda: queue.Queue(maxsize=QUEUE_BOUND)
    )
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _unsubscribe: Any = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
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
            created_date=timestamp(self.model.clock()),
        )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
            if self._unsubscribe is None:
                self._unsubscribe = self.model.subscribe(self._on_event)
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

    def _on_event(self, event: JSON) -> None:
        # Runs under the model's lock: only enqueue here, never post.
        for subscription in list(self.subscriptions.values()):
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
