"""Demand matching: a table of cases, as ADO serialises demands."""

from __future__ import annotations

import pytest

from adoscale.ado.demands import Demand, satisfies

LINUX = {"Agent.OS": "Linux", "docker": "", "java": "17", "Agent.Version": "4.255.0"}
NO_VERSION = {"Agent.OS": "Linux", "docker": ""}


@pytest.mark.parametrize(
    ("capabilities", "demands", "expected"),
    [
        (LINUX, [], True),  # a job with no demands runs anywhere
        (LINUX, ["docker"], True),
        (LINUX, ["kubectl"], False),
        (LINUX, ["DOCKER"], True),  # names are case-insensitive
        (LINUX, ["Agent.OS -equals Linux"], True),
        (LINUX, ["Agent.OS -equals linux"], True),  # ADO compares -equals values case-insensitively
        (LINUX, ["Agent.OS -equals Windows_NT"], False),
        (LINUX, ["java -equals 17"], True),
        (LINUX, ["java -equals 21"], False),
        (LINUX, ["Agent.Version -gtVersion 2.182.1"], True),
        (LINUX, ["Agent.Version -gtVersion 4.255.0"], True),  # minimum version: equal satisfies
        (LINUX, ["Agent.Version -gtVersion 4.256.0"], False),
        (LINUX, ["Agent.Version -gtVersion 10.0"], False),  # numeric, not lexical
        (NO_VERSION, ["Agent.Version -gtVersion 99.0.0"], True),  # ignored without Agent.Version
        (NO_VERSION, ["docker", "Agent.Version -gtVersion 2.182.1"], True),
        (LINUX, ["docker", "kubectl"], False),  # every demand must hold
        ({}, ["docker"], False),
        ({}, ["Agent.Version -gtVersion 2.182.1"], True),
        (LINUX, ["  docker  "], True),
        (LINUX, [""], True),
    ],
)
def test_satisfies(capabilities: dict[str, str], demands: list[str], expected: bool) -> None:
    assert satisfies(capabilities, demands) is expected


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("java", Demand("java")),
        ("Agent.OS -equals Linux", Demand("Agent.OS", "equals", "Linux")),
        ("Agent.Version -gtVersion 2.182.1", Demand("Agent.Version", "gtversion", "2.182.1")),
        ("Agent.Name -equals my agent", Demand("Agent.Name", "equals", "my agent")),
    ],
)
def test_parse(text: str, parsed: Demand) -> None:
    assert Demand.parse(text) == parsed
