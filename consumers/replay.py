"""Replay of the embedded store on every core: one process per shard, then a merge."""

from __future__ import annotations

import multiprocessing
from typing import Any

from projections.fold import Projection, fold, merge

from .eventlog import read_facts_sqlite

MAX_WORKERS = 8


def _fold_shard(args: tuple[str, int, int, int | None]) -> dict[str, Any]:
    db_path, index, count, upto = args
    return fold(read_facts_sqlite(db_path, upto=upto, shard=(index, count))).to_dict()


def parallel_fold_sqlite(db_path: str, workers: int = 2, upto: int | None = None) -> Projection:
    """The fold of every fact (up to ``upto``), computed by ``workers`` processes."""
    workers = max(1, min(workers, MAX_WORKERS))
    if workers == 1:
        return fold(read_facts_sqlite(db_path, upto=upto))
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        parts = pool.map(_fold_shard, [(db_path, i, workers, upto) for i in range(workers)])
    return merge(Projection.from_dict(part) for part in parts)
