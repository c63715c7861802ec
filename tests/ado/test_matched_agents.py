"""Cutting `matchedAgents` from the bytes changes nothing that is decoded, and does cut what it can prove."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.ado.matched_agents import cut_matched_agents, decode_job_requests, without_matched_agents
from tests.cpu import cpu_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ado"
COMPACT = (",", ":")

# Any text, the characters that matter to the cut over-represented: brackets, quotes, backslashes, the key.
_TEXT = st.text(
    alphabet=st.sampled_from('ab[]{}",:\\ é\n') | st.characters(codec="utf-8"), max_size=12
) | st.sampled_from(['"matchedAgents":[', ',"matchedAgents":[1]', "]", '\\"', "[]"])


def _agent(name: str, agent_id: int) -> dict[str, Any]:
    links = f"https://dev.azure.com/org/_apis/distributedtask/pools/1/agents/{agent_id}"
    return {"_links": {"self": {"href": links}}, "id": agent_id, "name": name, "status": "offline"}


_REQUEST = st.fixed_dictionaries(
    {"requestId": st.integers(1, 10**6), "demands": st.lists(_TEXT, max_size=3), "jobName": _TEXT},
    optional={
        "matchedAgents": st.lists(st.builds(_agent, _TEXT, st.integers(1, 999)), max_size=4),
        "data": st.dictionaries(_TEXT, _TEXT, max_size=2),
        # A free-form object (agentSpecification is a JObject) may hold a key of that name, arrays in arrays.
        "agentSpecification": st.fixed_dictionaries(
            {"matchedAgents": st.lists(st.lists(st.integers(), max_size=2) | _TEXT, max_size=3)}
        ),
    },
)


def _dropped(raw: bytes) -> Any:
    """What the object hook alone makes of `raw`: the result the cut must not change."""
    return json.loads(raw, object_hook=without_matched_agents)


def _has_key(value: Any) -> bool:
    if isinstance(value, dict):
        return "matchedAgents" in value or any(_has_key(v) for v in value.values())
    return isinstance(value, list) and any(_has_key(v) for v in value)


@settings(max_examples=300, deadline=None)
@given(
    requests=st.lists(_REQUEST, max_size=5),
    separators=st.sampled_from([COMPACT, (", ", ": "), (" ,", " : ")]),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
)
def test_the_cut_changes_nothing_the_hook_decodes(
    requests: list[dict[str, Any]], separators: tuple[str, str], ascii_only: bool, indent: int | None
) -> None:
    body = {"count": len(requests), "value": requests}
    raw = json.dumps(body, separators=separators, ensure_ascii=ascii_only, indent=indent).encode()
    decoded = decode_job_requests(raw)
    assert decoded == _dropped(raw)
    assert not _has_key(decoded)
    assert len(decoded["value"]) == len(requests)


def test_a_compact_body_loses_every_provable_array_before_decoding() -> None:
    names = ["agent-1", "a name with spaces", "ünïcode"]
    requests = [{"requestId": i, "matchedAgents": [_agent(n, k) for k, n in enumerate(names)]} for i in range(3)]
    raw = json.dumps({"count": 3, "value": requests}, separators=COMPACT, ensure_ascii=False).encode()
    cut = cut_matched_agents(raw)
    assert cut.count(b'"matchedAgents":null') == 3 and b"agent-1" not in cut
    assert len(cut) < len(raw) / 4


@pytest.mark.parametrize("name", ["has ] a bracket", 'has "quotes"', "has \\ a backslash", "has [ one"])
def test_an_array_whose_end_the_bytes_do_not_prove_is_left_to_the_hook(name: str) -> None:
    plain = {"requestId": 1, "matchedAgents": [_agent("plain", 1)]}
    odd = {"requestId": 2, "matchedAgents": [_agent(name, 2), _agent("after", 3)]}
    raw = json.dumps({"count": 2, "value": [plain, odd]}, separators=COMPACT).encode()
    cut = cut_matched_agents(raw)
    # The plain array is cut; the one with the awkward name is kept whole for the decoder.
    assert cut.count(b'"matchedAgents":null') == 1 and b'"after"' in cut
    assert decode_job_requests(raw) == _dropped(raw) == {"count": 2, "value": [{"requestId": 1}, {"requestId": 2}]}


def test_a_member_whose_name_only_ends_in_the_key_keeps_its_array() -> None:
    # `"x\"matchedAgents":[...]`: the bytes hold the key's text after an escaped quote, inside another name.
    body = {"value": [{"requestId": 1, "agentSpecification": {'x"matchedAgents': [1, 2]}}]}
    raw = json.dumps(body, separators=COMPACT).encode()
    assert cut_matched_agents(raw) == raw
    assert decode_job_requests(raw) == body


def test_the_recorded_response_compact_as_the_service_sends_it() -> None:
    recorded = json.loads((FIXTURES / "jobrequests-one-running-one-queued.json").read_text())
    raw = json.dumps(recorded, separators=COMPACT).encode()
    assert b'"matchedAgents":[' in raw
    cut = cut_matched_agents(raw)
    assert b'"matchedAgents":[' not in cut
    assert decode_job_requests(raw) == _dropped(raw)


def test_arrays_left_whole_are_searched_past_once() -> None:
    """The search resumes after the `]` an array was checked up to, so a body of many arrays the cut cannot
    prove costs one read of the bytes, not one per array: 200,000 keys in 4.6 MB, whose first `]` is the
    last byte, with a backslash before it in every array."""
    raw = b'{"value":[' + b'{"matchedAgents":[{"name":"x\\"},' * 200_000 + b"]"
    with cpu_time() as cpu:
        assert cut_matched_agents(raw) == raw
    assert cpu.seconds < 1.0, f"{cpu.seconds:.2f} s of CPU"  # about 0.1 s; one search per array: hours


def test_a_body_that_is_not_json_is_still_refused() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_job_requests(b'{"value":[{"matchedAgents":[{"id":1}]},')
    with pytest.raises(json.JSONDecodeError):
        decode_job_requests(b"<html>sign in</html>")
