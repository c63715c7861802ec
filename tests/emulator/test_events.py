"""Domain events: what the model publishes, and how the model's parts stay apart from the HTTP layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale_lab.emulator import AdoModel
from adoscale_lab.emulator.events import JobEvent
from adoscale_lab.emulator.notifications import job_state_changed
from tests.test_import_graph import SOURCES, import_graph


def test_events_carry_the_job_as_it_was_at_each_transition() -> None:
    model = AdoModel(auto_start=False)
    seen: list[JobEvent] = []
    model.events.subscribe(seen.append)
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    job = model.queue_job(pool)
    agent = model.register_agent(pool, "a1")
    model.start_job(job)
    model.finish_job(job, "failed")
    assert [e.transition for e in seen] == ["queued", "assigned", "started", "completed"]
    queued, assigned, started, completed = (e.job for e in seen)
    assert queued.reserved_agent is None and queued.assign_time is None  # a copy: later changes do not leak in
    assert assigned.reserved_agent == agent and assigned.receive_time is None
    assert started.receive_time is not None and started.result is None
    assert completed.result == "failed"
    assert model.job(job) is not completed
    assert {e.org for e in seen} == {"acme"} and {e.host_id for e in seen} == {model.host_id}


def test_every_subscriber_renders_the_same_notification_for_an_event() -> None:
    model = AdoModel()
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    events: list[JobEvent] = []
    model.subscribe(first.append)
    model.subscribe(second.append)
    model.events.subscribe(events.append)
    model.queue_job(model.create_pool("linux"))
    assert first == second == [job_state_changed(events[0])]
    assert first[0]["id"] == events[0].id


def test_the_event_date_is_the_model_clock_when_it_happened() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    model = AdoModel(clock=lambda: now)
    events: list[JobEvent] = []
    model.events.subscribe(events.append)
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    model.queue_job(pool)
    model.clock = lambda: now + timedelta(seconds=30)  # the clock may be swapped: the parts follow it
    model.register_agent(pool, "a1")
    assert [e.at for e in events] == [now, now + timedelta(seconds=30), now + timedelta(seconds=30)]
    assert job_state_changed(events[0])["createdDate"] == "2026-01-02T03:04:05Z"


def test_unsubscribing_stops_events() -> None:
    model = AdoModel()
    events: list[JobEvent] = []
    unsubscribe = model.events.subscribe(events.append)
    pool = model.create_pool("linux")
    model.queue_job(pool)
    unsubscribe()
    unsubscribe()  # twice is harmless
    model.queue_job(pool)
    assert len(events) == 1


MODEL_PARTS = {"entities", "errors", "events", "pools", "projects", "jobs", "environments", "demands"}
HTTP_LAYER = {"app", "api", "admin", "router", "messages", "wire", "hooks", "notifications", "server", "locations"}


def test_the_model_parts_import_nothing_of_the_http_layer() -> None:
    graph = import_graph(*SOURCES)
    prefix = "adoscale_lab.emulator."
    for part in MODEL_PARTS:
        reached = {name.removeprefix(prefix) for name in graph[prefix + part]}
        assert not reached & HTTP_LAYER, f"{part} imports {sorted(reached & HTTP_LAYER)}"
        assert "model" not in reached, f"{part} imports the facade that composes it"
