"""This thread's CPU time over a block, without the collector's passes over what other tests left.

A worker of the suite ends holding 1.6-1.7 million objects the collector tracks (what the files it ran before
imported and cached; not traced further), and each full collection scans them all: 0.2-0.8 s of CPU each,
measured with a `gc.callbacks` probe over the two workers' run (2026-12-05). One that falls inside a timed
block is charged to the code under test: a 15-byte document once took 1.26 s of CPU that way in CI.
`gc.freeze()` sets what exists before the block aside for its duration, so the collector still runs over what
the code under test makes, and a loader that blows up on its input still fails the bound.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Elapsed:
    seconds: float = 0.0


@contextmanager
def cpu_time() -> Iterator[Elapsed]:
    elapsed = Elapsed()
    gc.freeze()
    started = time.thread_time()
    try:
        yield elapsed
    finally:
        elapsed.seconds = time.thread_time() - started
        gc.unfreeze()
