"""Parsing and encoding many models at once, in worker processes.

The frontend is pure Python (~15 ms per 120-operator model on one core, most of it reading tensors out
of the flatbuffer), so a directory of models parses about cores-times faster spread over processes. The
workers import only perfsage.graph (no torch), start once per encoder and return encodings in input order.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from perfsage.errors import PerfsageError
from perfsage.graph.encode import EncodedGraph, encode
from perfsage.graph.ir import Graph
from perfsage.graph.reader import load_graph
from perfsage.process_pool import process_pool

ModelSource = str | os.PathLike | bytes | bytearray | memoryview | Graph


def load_encoded(source: ModelSource) -> tuple[EncodedGraph, list[str]]:
    """A model's encoding and its operators' names (what a per-layer breakdown labels its rows with)."""
    graph = source if isinstance(source, Graph) else load_graph(source)
    return encode(graph), [n.op for n in graph.nodes]


class ParallelEncoder:
    """`load_encoded` over many models in `workers` processes (1: in this process). Fewer than
    min_parallel models are encoded here: each worker is a fresh interpreter importing perfsage.graph."""

    def __init__(self, workers: int, min_parallel: int = 16) -> None:
        self.workers = workers
        self.min_parallel = min_parallel
        self._pool: ProcessPoolExecutor | None = None

    def map(self, sources: Sequence[ModelSource]) -> list[tuple[EncodedGraph, list[str]]]:
        if self.workers == 1 or len(sources) < self.min_parallel or any(isinstance(s, Graph) for s in sources):
            return [load_encoded(s) for s in sources]
        if self._pool is None:
            # spawn, not fork: the parent usually holds torch's thread pools, which a forked child inherits
            self._pool = process_pool(self.workers, spawn=True)
        chunk = max(1, len(sources) // (4 * self.workers))
        try:
            return list(self._pool.map(load_encoded, [bytes(s) if isinstance(s, memoryview) else s
                                                      for s in sources], chunksize=chunk))
        except BrokenProcessPool:
            self.close()
            raise PerfsageError("a worker process reading models died; rerun with one worker to see "
                                "which model") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


_SHARED: dict[int, ParallelEncoder] = {}


def shared_encoder(workers: int | None = None) -> ParallelEncoder:
    """One encoder per worker count (default: one per core) for the whole process, its pool started on
    first use and kept: a search loop calls predict_many many times, and a pool started per call made
    200 files on 2 cores slower than one process (54 against 76 models/s) where a kept one is faster (129)."""
    n = max(1, workers if workers is not None else (os.cpu_count() or 1))
    if n not in _SHARED:
        _SHARED[n] = ParallelEncoder(n)
    return _SHARED[n]


@atexit.register
def _close_shared() -> None:
    for enc in _SHARED.values():
        enc.close()
