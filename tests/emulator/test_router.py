"""The one router: an explicit table, matched in order, serving the ADO API and the admin API."""

from __future__ import annotations

import httpx

from adoscale_lab.emulator import AdoModel, make_app
from adoscale_lab.emulator.locations import L
from adoscale_lab.emulator.messages import Request, Response
from adoscale_lab.emulator.router import Endpoint, Route, Router


def _endpoint(name: str) -> Endpoint:
    def answer(req: Request, **params: str) -> Response:
        return Response(200, {"route": name, **params})

    return answer


def test_first_route_for_the_method_and_path_wins() -> None:
    router = Router(
        [
            Route("GET", "/{org}/_apis/things/pool", _endpoint("pool"), L.POOLS),
            Route("GET", "/{org}/_apis/things/{thing}", _endpoint("thing"), L.POOLS),
            Route("DELETE", "/{org}/_apis/things/{thing}", _endpoint("delete"), L.POOLS),
        ]
    )
    pool = router.match("GET", "/acme/_apis/things/pool")
    assert pool is not None and pool[0].template.endswith("/pool") and pool[1] == {"org": "acme"}
    thing = router.match("GET", "/acme/_apis/things/7/")  # a trailing slash is the same path
    assert thing is not None and thing[1] == {"org": "acme", "thing": "7"}
    deleted = router.match("DELETE", "/acme/_apis/things/7")
    assert deleted is not None and deleted[0].method == "DELETE"
    assert router.match("POST", "/acme/_apis/things/7") is None
    assert router.match("GET", "/acme/_apis/things/7/more") is None


def test_ado_paths_ignore_case_and_admin_paths_do_not() -> None:
    router = Router(
        [
            Route("GET", "/{org}/_apis/Pools", _endpoint("ado"), L.POOLS),
            Route("GET", "/_emulator/state", _endpoint("admin")),
        ]
    )
    assert router.match("GET", "/acme/_APIS/pools") is not None
    assert router.match("GET", "/_emulator/state") is not None
    assert router.match("GET", "/_emulator/STATE") is None


def test_each_app_has_its_own_table_bound_to_its_own_model() -> None:
    # No import-time registry: two apps built side by side serve their own models, and building a second
    # app does not add routes to the first.
    first, second = AdoModel(), AdoModel()
    first.create_pool("one")
    second.create_pool("two")
    apps = [make_app(first), make_app(second)]
    assert len(apps[0].router.routes) == len(apps[1].router.routes)
    names = []
    for app, model in zip(apps, (first, second), strict=True):
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://emulator") as http:
            pools = http.get("/acme/_apis/distributedtask/pools", auth=("", model.pat)).json()["value"]
            names.append([p["name"] for p in pools])
            assert http.get("/_emulator/state").json()["pools"][0]["name"] == names[-1][0]
    assert names == [["one"], ["two"]]


def test_an_admin_path_never_reaches_the_ado_api() -> None:
    # `/_emulator/_apis/connectionData` fits the ADO route `/{org}/_apis/connectionData`; under the admin
    # prefix it is an unknown admin route, answered without authentication.
    app = make_app(AdoModel())
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://emulator") as http:
        answer = http.get("/_emulator/_apis/connectionData")
        assert answer.status_code == 404
        assert answer.json() == {"error": "no admin route GET /_emulator/_apis/connectionData"}
        unauthenticated = http.get("/acme/_apis/connectionData", headers={"X-TFS-FedAuthRedirect": "Suppress"})
        assert unauthenticated.status_code == 401
        wrong_org = http.get("/other/_apis/connectionData", auth=("", "good-pat"))
        assert wrong_org.status_code == 404 and wrong_org.json()["typeKey"] == "OrganizationNotFoundException"
        unknown = http.get("/acme/_apis/nothing", auth=("", "good-pat"))
        assert unknown.status_code == 404 and unknown.json()["typeKey"] == "RouteNotFoundException"
