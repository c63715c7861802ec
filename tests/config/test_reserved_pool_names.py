"""A pool's lease item is keyed by its name, beside the table's other items (`history#POOL`, `hook#POOL`,
`incident#POOL`, `incident-wait#POOL`, `incident-round`): a pool named like one of them would share that
item, its lease overwritten by a history or an incident (docs/operations.md). Such names are refused."""

from __future__ import annotations

import pytest

from adoscale.config import ConfigError, parse_config
from adoscale.config.model import RESERVED_POOL_PREFIXES
from adoscale.control.incidents import PASSES, ROUNDS, WAITS
from adoscale.history import dynamodb as history_items
from adoscale.history import incidents as incident_items
from adoscale.hooks import requests as hook_items
from tests.config.test_config import GOOD


def test_every_item_the_lease_table_keeps_beside_the_leases_is_reserved() -> None:
    prefixes = {history_items.PREFIX, hook_items.PREFIX, incident_items.PREFIX, *(k.prefix for k in (ROUNDS, WAITS))}
    assert PASSES.prefix == incident_items.PREFIX
    assert prefixes == set(RESERVED_POOL_PREFIXES)


@pytest.mark.parametrize("name", ["incident-round", "history#linux", "hook#linux", "incident#x", "incident-wait#x"])
def test_a_pool_named_like_a_table_item_is_refused_by_name(name: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"c\.yaml: pools\[0\] \({name}\) → name: a name starting '.+' is adoscale's own"
    ):
        parse_config(GOOD.replace("name: linux-fargate", f"name: {name}"), "c.yaml")


@pytest.mark.parametrize("name", ["round", "incident", "history", "linux#1", "incident-x"])
def test_names_that_only_resemble_them_are_kept(name: str) -> None:
    assert parse_config(GOOD.replace("name: linux-fargate", f"name: {name}"), "c.yaml").pools[0].name == name
