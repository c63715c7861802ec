"""Each pool's record kept between passes: the warm pool's demand history (job arrivals a pass has seen, the
warm agents' idle time today, the jobs running, how long the last DURATIONS_KEPT finished jobs ran and how
long the last STARTUPS_KEPT agents took to come online) and the marks of the jobs and agents the metrics have
counted (`seen`).

Written by the pass that holds the pool's lease, so there is one writer per pool at a time. Kept where
the Lambdas read it cheaply: one item per pool in the lease table (`DynamoHistory`), or in memory for the
CLI's `serve` and the simulator (`MemoryHistory`).
"""

from adoscale.history.base import HistoryCorruptError, HistoryRecord, Watermark, trim
from adoscale.history.dynamodb import DynamoHistory
from adoscale.history.memory import MemoryHistory
from adoscale.ports import History

__all__ = ["DynamoHistory", "History", "HistoryCorruptError", "HistoryRecord", "MemoryHistory", "Watermark", "trim"]
