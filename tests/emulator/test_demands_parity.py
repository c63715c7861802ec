"""The emulator's matcher (ADO's rules) against the client's (adoscale.ado.demands).

Every difference is either fixed in the client or listed in docs/emulator.md; the one listed difference
(`Agent.Version` demands with no `Agent.Version` capability) is asserted here so it cannot grow silently.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoscale.ado.demands import satisfies
from adoscale_lab.emulator.demands import ado_satisfies, compare_versions, dotnet_version

NAMES = st.sampled_from(["java", "JAVA", "docker", "Agent.OS", "agent.os", "node", "Agent.Version", "maven"])
PART = st.one_of(st.integers(0, 30).map(str), st.sampled_from(["", " 1", "x", "-1", "+2", "01", "2147483648"]))
VERSIONS = st.one_of(
    st.lists(PART, min_size=1, max_size=5).map(".".join),
    st.tuples(
        st.lists(st.integers(0, 20).map(str), min_size=1, max_size=4).map(".".join),
        st.sampled_from(["-beta", "-rc.1", "-"]),
    ).map("".join),
    st.sampled_from(["", "17", "11.0", "11.0.0", "4.255.0", "v1.2", "1..2", "Linux", "linux"]),
)
VALUES = st.one_of(VERSIONS, st.sampled_from(["Linux", "LINUX", "linux ", " Linux", "Windows_NT", "true"]))


@st.composite
def demands(draw: st.DrawFn) -> str:
    name = draw(NAMES)
    kind = draw(st.sampled_from(["exists", "equals", "gtVersion", "GTVERSION"]))
    if kind == "exists":
        return name
    return f"{name} -{kind} {draw(VALUES)}"


CAPABILITIES = st.dictionaries(NAMES, VALUES, max_size=6).map(lambda caps: {"Agent.Version": "4.255.0", **caps})


@given(CAPABILITIES, st.lists(demands(), max_size=4))
def test_the_two_matchers_agree_when_the_agent_reports_its_version(caps: dict[str, str], wanted: list[str]) -> None:
    assert satisfies(caps, wanted) == ado_satisfies(caps, wanted), (caps, wanted)


@given(
    st.dictionaries(NAMES.filter(lambda n: n.lower() != "agent.version"), VALUES, max_size=4),
    VERSIONS.filter(str.strip),
)
def test_listed_difference_agent_version_without_the_capability(caps: dict[str, str], version: str) -> None:
    # adoscale asks the question for agents that do not exist yet; ADO asks it of a real agent, which
    # always reports Agent.Version. Documented in docs/emulator.md.
    demand = [f"Agent.Version -gtVersion {version}"]
    assert satisfies(caps, demand) is True
    assert ado_satisfies(caps, demand) is False


@pytest.mark.parametrize(
    ("capability", "demand", "met"),
    [
        ("17", "11.0", False),  # "17" is not a System.Version: below every parsable demand
        ("17.0", "11.0", True),
        ("11.0", "11.0.0", False),  # missing build part is -1 in .NET
        ("11.0.0", "11.0", True),
        ("2.182.1-beta", "2.182.1", True),  # pre-release suffix dropped before parsing
        ("garbage", "also garbage", True),  # two unparsable versions compare equal
        ("4.255.0", "not a version", True),  # an unparsable demand is below everything
        ("1.2.3.4.5", "1.0", False),  # five parts do not parse
    ],
)
def test_dotnet_version_rule(capability: str, demand: str, met: bool) -> None:
    caps = {"java": capability, "Agent.Version": "4.255.0"}
    assert ado_satisfies(caps, [f"java -gtVersion {demand}"]) is met
    assert satisfies(caps, [f"java -gtVersion {demand}"]) is met


def test_version_parsing_matches_system_version() -> None:
    assert dotnet_version("1.2") == (1, 2, -1, -1)
    assert dotnet_version(" 1 . 2 ") == (1, 2, -1, -1)  # NumberStyles.Integer allows surrounding spaces
    assert dotnet_version("1") is None
    assert dotnet_version("1.-2") is None
    assert dotnet_version("2147483648.0") is None
    assert compare_versions("1.0", "1.0.0") == -1
