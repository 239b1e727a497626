"""Which rows a rank reads, and in what order an epoch visits them.

`rank_share` splits a split's rows over the DDP ranks ONCE, so a rank loads (or streams) only its
own rows and memory per rank falls with the number of ranks:

    training     a seeded permutation of the rows, rank r takes positions r, r + world, ...; the
                 shorter shares are padded by wrapping, so every rank runs the same number of steps
    evaluation   rows r, r + world, ... unpadded: every row is scored exactly once over the ranks

`epoch_order` is a rank's order for one epoch, from the stream (seed, epoch, rank):

    rows     a plain permutation
    chunks   the store chunks the rows lie in are permuted, then rows are permuted inside each
             window of `window` consecutive chunks: a batch touches at most about `window` chunks,
             which is what keeps streaming reads from decompressing a chunk per row
"""
from __future__ import annotations

import numpy as np

from training.options import SHUFFLES


def rank_share(rows: np.ndarray, rank: int, world: int, seed: int, train: bool) -> np.ndarray:
    """This rank's rows of a split (module docstring)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not train or world == 1:
        return rows[rank::world]
    permuted = rows[np.random.default_rng([seed, 0x5AD]).permutation(len(rows))]
    share = permuted[rank::world]
    return np.resize(share, -(-len(rows) // world)) if len(share) else share


def epoch_order(rows: np.ndarray, chunk_of_row: np.ndarray, rng: np.random.Generator, shuffle: str,
                window: int = 4) -> np.ndarray:
    """`rows` in this epoch's order: "rows" a permutation, "chunks" chunk-aware (module docstring)."""
    if shuffle == "rows":
        return rows[rng.permutation(len(rows))]
    chunks = np.unique(chunk_of_row)
    rank_of_chunk = np.empty(chunks.max() + 1 if len(chunks) else 0, dtype=np.int64)
    rank_of_chunk[chunks] = rng.permutation(len(chunks))
    window_of_row = rank_of_chunk[chunk_of_row] // window
    order = np.lexsort((rng.random(len(rows)), window_of_row))
    return rows[order]
