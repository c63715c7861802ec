"""`pools[].warm_pool.startup_seconds` (issue 25): left out or null, the warm pool learns its agents' start-up
(60 s until enough have come online); given, it is used as given, as every configuration before it was."""

from __future__ import annotations

import pytest

from adoscale.config import ConfigError, parse_config
from adoscale.control.decide import warm_policy_for
from tests.config.test_config import GOOD


@pytest.mark.parametrize(
    ("warm", "expected"),
    [
        ("{mode: predictive}", (60.0, True)),
        ("{mode: predictive, startup_seconds: null}", (60.0, True)),
        ("{mode: predictive, startup_seconds: 60}", (60.0, False)),  # an old configuration's explicit default
        ("{mode: predictive, startup_seconds: 300}", (300.0, False)),
    ],
)
def test_the_start_up_is_learnt_unless_one_is_given(warm: str, expected: tuple[float, bool]) -> None:
    policy = warm_policy_for(parse_config(f"{GOOD}    warm_pool: {warm}\n", "c.yaml").pools[0])
    assert (policy.startup_s, policy.learn_startup) == expected


@pytest.mark.parametrize("bad", ["0", "-5", "86401", "1.5", "true", "'60'"])
def test_a_bad_start_up_is_named(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml.*linux-fargate.*startup_seconds"):
        parse_config(f"{GOOD}    warm_pool: {{mode: predictive, startup_seconds: {bad}}}\n", "c.yaml")
