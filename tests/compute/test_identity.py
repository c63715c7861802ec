"""The pool's `startedBy` and tag value: valid for ECS whatever the name, deterministic, and distinct per
pool. Validity is judged by `adoscale_lab.moto_rules.ecs`, which is written from ECS's API reference, not from the
encoder."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adoscale.compute import STARTED_BY, pool_tag_value, started_by_for
from adoscale_lab.moto_rules.ecs import started_by_violations, tag_violations

# Any str a configuration could hold, lone surrogates included: the encoders must never fail on a name.
ANY_NAME = st.text(st.characters(exclude_categories=()), min_size=1, max_size=255)
UNSAFE = st.sampled_from(list(" ().[]{}#&*!?,;'\"äé中ü\u00a0\t/\\$%^|~`<>\ud800"))


def _tag(pool: str) -> list[dict[str, str]]:
    return [{"key": "adoscale:pool", "value": pool_tag_value(pool)}]


@given(ANY_NAME)
def test_any_name_gives_a_valid_started_by_and_tag_the_same_every_time(name: str) -> None:
    assert started_by_violations(started_by_for(name)) == []
    assert tag_violations(_tag(name)) == []
    assert started_by_for(name) == started_by_for(name) and pool_tag_value(name) == pool_tag_value(name)


@given(ANY_NAME, ANY_NAME)
def test_different_names_give_different_encodings(a: str, b: str) -> None:
    assume(a != b)
    assert started_by_for(a) != started_by_for(b)
    assert pool_tag_value(a) != pool_tag_value(b)


@st.composite
def colliding_names(draw: st.DrawFn) -> tuple[str, str]:
    """Two names that differ only in characters ECS refuses, so that their sanitised forms are alike."""
    parts = draw(st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=2, max_size=5))
    first = [draw(UNSAFE) for _ in parts[1:]]
    second = [draw(UNSAFE) for _ in parts[1:]]
    assume(first != second)

    def join(separators: list[str]) -> str:
        return parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True))

    return join(first), join(second)


@given(colliding_names())
def test_names_alike_once_sanitised_stay_apart_by_their_digest(pair: tuple[str, str]) -> None:
    a, b = pair
    assert started_by_for(a) != started_by_for(b)
    assert pool_tag_value(a) != pool_tag_value(b)


@given(st.from_regex(r"[A-Za-z0-9_-]{1,27}", fullmatch=True))
def test_names_ecs_already_accepts_are_sent_as_they_are(name: str) -> None:
    """What earlier versions sent for these names, so their tasks are still found after an upgrade."""
    assert started_by_for(name) == f"{STARTED_BY}/{name}"
    assert pool_tag_value(name) == name


@given(ANY_NAME)
def test_a_digest_form_never_looks_like_a_plain_one(name: str) -> None:
    """A plain `startedBy` has no `/` after the prefix and a plain tag value none at all; a digest form
    always has one, so a pool's plain form cannot be another pool's digest form."""
    plain = re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None and len(name) <= 36 - len(STARTED_BY) - 1
    assert ("/" in started_by_for(name)[len(STARTED_BY) + 1 :]) is not plain
    assert ("/" in pool_tag_value(name)) is (pool_tag_value(name) != name)


def test_the_issue_s_pool_name() -> None:
    name = "Linux Docker (x64) v2.0"
    started_by, tag = started_by_for(name), pool_tag_value(name)
    assert started_by_violations(started_by) == [] and tag_violations(_tag(name)) == []
    # Still readable in the console: the name, sanitised, follows the digest.
    assert started_by.startswith(f"{STARTED_BY}/") and "Linux" in started_by
    assert tag.endswith("Linux Docker _x64_ v2.0")
    assert len(started_by) <= 36


@pytest.mark.parametrize("name", ["aws:linux", "AWS:linux", "x" * 257, "linux/x64", "\ud800", "Café"])
def test_reserved_long_slashed_or_odd_names_take_the_digest_form(name: str) -> None:
    assert pool_tag_value(name) != name
    assert tag_violations(_tag(name)) == []
    assert started_by_violations(started_by_for(name)) == []


def test_a_prefix_ecs_would_refuse_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="prefix"):
        started_by_for("linux", prefix="ado scale")
