"""Time and size of synthetic raw trees: `python bench/synthetic.py [--full]`.

Prints seconds, takes, clips and bytes on disk per layout; --full adds the layouts' default
(real-size) frames next to the small demo frames.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.synthetic import write_dataset  # noqa: E402

CASES = (
    ("utd-mhad", 4, 4, (120, 160)),
    ("berkeley-mhad", 4, 2, (120, 160)),
    ("mmact", 4, 5, (112, 200)),
)


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also write the default (real-size) frames")
    args = parser.parse_args()
    sizes = [False, True] if args.full else [False]
    header = ("layout", "frames", "subj", "takes", "seconds", "takes", "clips", "MiB")
    print(f"{header[0]:15s} " + " ".join(f"{h:>8s}" for h in header[1:]))
    for layout, subjects, takes, small in CASES:
        for full in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                summary = write_dataset(layout, Path(tmp), subjects=subjects, takes=takes, classes=None, seed=0,
                                        frame_size=None if full else small)
                seconds = time.perf_counter() - start
                size = "default" if full else f"{small[0]}x{small[1]}"
                print(f"{layout:15s} {size:>8s} {subjects:8d} {takes:8d} {seconds:8.1f} {summary.n_takes:8d} "
                      f"{summary.n_clips:8d} {tree_bytes(Path(tmp)) / 2**20:8.1f}", flush=True)


if __name__ == "__main__":
    main()
