"""The location service, api-version rules and HTTP/1.1 keep-alive, over a real socket."""

from __future__ import annotations

import base64
import socket

import httpx
import pytest

from adoscale_lab.emulator import AdoModel
from tests.conftest import PAT


def _auth() -> dict[str, str]:
    token = base64.b64encode(f":{PAT}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-TFS-FedAuthRedirect": "Suppress"}


def test_options_lists_the_sdk_location_ids(org_url: str) -> None:
    answer = httpx.request("OPTIONS", f"{org_url}/_apis", headers=_auth())
    assert answer.status_code == 200
    locations = {loc["id"]: loc for loc in answer.json()["value"]}
    # The ids azure-devops 7.1's generated TaskAgentClient and ServiceHooksClient call.
    agents = locations["e298ef32-5878-4cab-993c-043836571f42"]
    assert (agents["area"], agents["resourceName"]) == ("distributedtask", "agents")
    assert agents["routeTemplate"] == "_apis/{area}/pools/{poolId}/{resource}/{agentId}"
    assert {"a8c47e17-4d56-4a56-92bb-de7ea7dc65be", "8572b1fc-2482-47fa-8f74-7e3ed53ee54b"} <= set(locations)
    assert "fc50d02a-849f-41fb-8af1-0a5216103269" in locations
    for loc in locations.values():
        assert set(loc) == {
            "id",
            "area",
            "resourceName",
            "routeTemplate",
            "resourceVersion",
            "minVersion",
            "maxVersion",
            "releasedVersion",
        }


def test_resource_areas_point_at_the_organization(org_url: str) -> None:
    areas = httpx.get(f"{org_url}/_apis/resourceAreas", headers=_auth()).json()["value"]
    task_agent = next(a for a in areas if a["id"] == "a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd")
    assert task_agent["locationUrl"].rstrip("/") == org_url
    data = httpx.get(f"{org_url}/_apis/connectionData", headers=_auth()).json()
    assert data["authenticatedUser"]["providerDisplayName"]


@pytest.mark.parametrize(
    ("path", "version", "type_key"),
    [
        ("/_apis/distributedtask/pools", "8.0", "VssVersionOutOfRangeException"),
        ("/_apis/distributedtask/pools", "garbage", "VssInvalidApiVersionException"),
        ("/_apis/distributedtask/pools", "0.5", "VssVersionNotSupportedException"),
        ("/PROJ/_apis/pipelines/environments", "7.1", "VssInvalidPreviewVersionException"),
        ("/_apis/distributedtask/pools/1/jobrequests", "7.1", "VssInvalidPreviewVersionException"),
    ],
)
def test_api_version_is_checked_like_the_service(
    model: AdoModel, org_url: str, path: str, version: str, type_key: str
) -> None:
    model.create_project("PROJ")
    model.create_pool("linux")
    answer = httpx.get(f"{org_url}{path}", params={"api-version": version}, headers=_auth())
    assert answer.status_code == 400
    assert answer.json()["typeKey"] == type_key
    assert answer.json()["typeName"].startswith("Microsoft.VisualStudio.Services.WebApi.")


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/_apis/distributedtask/pools", "7.1"),
        ("/_apis/distributedtask/pools", "7.2-preview.1"),
        ("/PROJ/_apis/pipelines/environments", "7.1-preview.1"),
        ("/PROJ/_apis/distributedtask/environments", "7.1"),
        ("/_apis/distributedtask/pools", ""),  # no version at all: accepted, as clients rely on
    ],
)
def test_accepted_versions(model: AdoModel, org_url: str, path: str, version: str) -> None:
    model.create_project("PROJ")
    params = {"api-version": version} if version else {}
    assert httpx.get(f"{org_url}{path}", params=params, headers=_auth()).status_code == 200


def test_keep_alive_serves_two_requests_on_one_connection(model: AdoModel, org_url: str) -> None:
    model.create_pool("linux")
    host, port = org_url.split("//", 1)[1].split("/", 1)[0].split(":")
    request = (
        f"GET /acme/_apis/distributedtask/pools HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {_auth()['Authorization']}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        answers = []
        for _ in range(2):
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            length = int(
                next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
            )
            body = b""
            while len(body) < length:
                body += sock.recv(length - len(body))
            answers.append((head.split(b"\r\n")[0], body))
    assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 2
    assert all(b'"name":"linux"' in body for _, body in answers)


@pytest.mark.parametrize(
    "path",
    [
        "/_apis/distributedtask/pools/abc",
        "/_apis/distributedtask/pools/1/jobrequests?$top=x",
        "/PROJ/_apis/pipelines/environments?$top=x",
    ],
)
def test_malformed_input_is_a_400_envelope(model: AdoModel, org_url: str, path: str) -> None:
    model.create_project("PROJ")
    model.create_pool("linux")
    answer = httpx.get(f"{org_url}{path}", headers=_auth())
    assert answer.status_code in (400, 404)
    assert answer.json()["typeKey"]
