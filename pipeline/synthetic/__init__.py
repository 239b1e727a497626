"""Synthetic datasets in the exact raw layouts of UTD-MHAD, Berkeley-MHAD and MMAct.

Each class is a distinct body motion (motion.py); the video renders it (render.py) and every
sensor stream is the physics of the same motion at its body site, in the layout's units.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .common import DEFAULT_CLASSES, SynthSummary

__all__ = ["DEFAULT_CLASSES", "LAYOUTS", "SynthSummary", "write_dataset"]

LAYOUTS = ("utd-mhad", "berkeley-mhad", "mmact")  # the raw layouts a synthetic tree can take


def write_dataset(layout: str, out: Path, *, subjects: int, takes: int, classes: Sequence[int] | None, seed: int,
                  quirks: bool = False, frame_size: tuple[int, int] | None = None,
                  cameras: Sequence[int] | None = None) -> SynthSummary:
    """Write a synthetic tree of `layout` under `out`; the same arguments give byte-identical files.

    takes: trials (UTD), repetitions (Berkeley) or sessions (MMAct) per subject and class;
    classes: label indices (None = a small diverse default); frame_size: (H, W), None = the
    layout's default (UTD and Berkeley 480x640 as the real data; MMAct 540x960, half the real size);
    cameras: MMAct only, the cameras rendered (None = all four).
    """
    from . import berkeley_mhad, mmact, utd_mhad

    writers = dict(zip(LAYOUTS, (utd_mhad.write, berkeley_mhad.write, mmact.write)))
    if layout not in writers:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if frame_size is not None and (len(frame_size) != 2 or min(frame_size) < 16 or any(v % 2 for v in frame_size)):
        raise ValueError(f"frame_size must be (H, W), even and at least 16 px, got {frame_size}")
    if cameras is not None and layout != "mmact":
        raise ValueError(f"cameras can be chosen for the mmact layout only, not {layout!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"cameras": tuple(cameras)} if cameras is not None else {}
    return writers[layout](out, subjects=subjects, takes=takes, classes=classes, seed=seed, quirks=quirks,
                           frame_size=frame_size, **extra)
