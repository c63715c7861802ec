"""The job-request list is written with each pool's matched agents encoded once per demand set (`wire.Encoded`,
for the simulator's CPU): the bytes on the wire must be exactly what encoding the whole answer does."""

from __future__ import annotations

import base64
import json

import httpx

from adoscale_lab.emulator import AdoModel
from adoscale_lab.emulator.wire import Encoded, encode, job_json
from tests.conftest import PAT


def _get(url: str, **params: str) -> httpx.Response:
    token = base64.b64encode(f":{PAT}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "X-TFS-FedAuthRedirect": "Suppress"}
    return httpx.get(url, params=params, headers=headers)


def _plain(model: AdoModel, pool: int, *, finished: bool) -> bytes:
    """The answer as the emulator wrote it before: every job's matched agents built and encoded on their own."""
    jobs = model.unfinished_jobs(pool)
    if finished:
        jobs = model.recent_finished_jobs(pool) + jobs
    value = [job_json(model, j) for j in jobs]
    return json.dumps({"count": len(value), "value": value}, separators=(",", ":")).encode()


def test_job_requests_are_the_same_bytes_as_encoding_each_job_s_matched_agents(model: AdoModel, org_url: str) -> None:
    linux = model.create_pool("linux")
    other = model.create_pool("other")
    model.register_agent(linux, "template", {"docker": "", "java": "17"}, online=False)
    model.register_agent(linux, "busy-1", {"docker": ""})
    model.register_agent(linux, "déjà-vu \x00 agent", {"java": "17"}, online=False)  # any text survives
    model.register_agent(other, "elsewhere", {"docker": ""}, online=False)
    for demands in ([], ["docker"], ["java -equals 17"], [], ["docker"], ["gpu"], ["docker", "java"]):
        model.queue_job(linux, demands)
    model.queue_job(other, ["docker"])
    running = model.unfinished_jobs(linux)[0]
    assert running.reserved_agent is not None  # one job runs on busy-1: a reserved agent and matched agents
    url = f"{org_url}/_apis/distributedtask/pools/{linux}/jobrequests"
    unfinished = _get(url, completedRequestCount="0")
    assert unfinished.status_code == 200
    assert unfinished.content == _plain(model, linux, finished=False)
    answer = _get(url)
    assert answer.content == _plain(model, linux, finished=True)
    body = answer.json()
    # What the memo shares: the same list under every job with the same demands, none where nothing matches.
    by_demands = {tuple(j["demands"]): j.get("matchedAgents") for j in body["value"]}
    assert [a["name"] for a in by_demands[("docker",)]] == ["template", "busy-1"]
    assert [a["name"] for a in by_demands[()]] == ["template", "busy-1", "déjà-vu \x00 agent"]
    assert by_demands[("gpu",)] is None  # failed at once (no agent meets it): finished jobs list none


def test_encode_writes_an_encoded_value_as_the_value_itself() -> None:
    value = {"x": [1, 2.5, "é\x00"], "y": None}
    body = {"a": Encoded(value), "b": [Encoded(value), "\x00encoded-not-a-mark:0"], "c": Encoded([])}
    plain = {"a": value, "b": [value, "\x00encoded-not-a-mark:0"], "c": []}
    assert encode(body) == json.dumps(plain, separators=(",", ":")).encode()
    assert encode({"n": 1}) == b'{"n":1}'
