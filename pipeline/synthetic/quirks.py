"""Known defects of the real trees, reproduced on request: damaged files and odd timestamps."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def corrupt_video(path: Path, rng: np.random.Generator) -> None:
    """Keep the first third of the file and append garbage bytes (a truncated, broken download)."""
    data = path.read_bytes()
    path.write_bytes(data[: max(len(data) // 3, 16)] + rng.integers(0, 256, size=512, dtype=np.uint8).tobytes())


def shuffle_timestamps(lines: list[str], rng: np.random.Generator) -> list[str]:
    """Duplicate a few lines in place and swap two neighbouring ones (out-of-order samples)."""
    out = list(lines)
    if len(out) < 8:
        return out
    for index in sorted(rng.choice(np.arange(2, len(out) - 2), size=3, replace=False), reverse=True):
        out.insert(int(index), out[int(index)])
    swap = int(rng.integers(2, len(out) - 3))
    out[swap], out[swap + 1] = out[swap + 1], out[swap]
    return out


def drop_zero_fractions(lines: list[str]) -> list[str]:
    """Timestamps on a whole second lose their '.ffffff' part, as str(datetime) writes them."""
    return [line.replace(".000000,", ",", 1) for line in lines]


def cut_short_line(lines: list[str]) -> list[str]:
    """A copy of the middle row (line len // 2 + 1) cut in half, inserted before it: a write interrupted
    mid-row. The half never reaches the third comma: that would need z longer than the timestamp."""
    out = list(lines)
    middle = len(out) // 2
    if out:
        out.insert(middle, out[middle][: len(out[middle]) // 2] + "\n")
    return out
