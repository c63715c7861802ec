"""History in memory: for `serve` (one process) and the simulator."""

from __future__ import annotations

import copy

from adoscale.history.base import HistoryRecord


class MemoryHistory:
    def __init__(self) -> None:
        self._records: dict[str, HistoryRecord] = {}

    def load(self, pool: str) -> HistoryRecord:
        return copy.deepcopy(self._records.get(pool, HistoryRecord()))

    def save(self, pool: str, record: HistoryRecord) -> None:
        self._records[pool] = copy.deepcopy(record)
