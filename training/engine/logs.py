"""What a run tells as it goes: log lines on stdout (rank 0 only) and, when asked, TensorBoard scalars.

Library code only calls `logging.getLogger(__name__)`; the program that runs it (cli.py) calls
`configure_logging` once, so a caller that embeds the library keeps its own logging setup and
importing a module never configures anything.
"""
from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

LIBRARY_LOGGERS = ("pipeline", "training")
TENSORBOARD_DIR = "tb"  # under each stage directory


class _StdoutHandler(logging.StreamHandler):
    """Writes to the sys.stdout of the moment of each record, not of the handler's creation: click's
    CliRunner and pytest swap sys.stdout per command, and a stale stream would be closed by then."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        """StreamHandler assigns its stream on creation; the property above always wins."""


def configure_logging(rank: int = 0, level: int = logging.INFO) -> None:
    """Print the records of the `pipeline` and `training` loggers to stdout as bare messages (the lines
    the library prints are the user-visible output), at `level` on rank 0 and at WARNING on the other
    ranks of a torchrun job, so a DDP run shows each line once. Calling it again replaces the handler."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _StdoutHandler)]:
            logger.removeHandler(handler)
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level if rank == 0 else max(level, logging.WARNING))


def scalar_leaves(record: dict, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf of a nested metrics record as ("train/loss", 1.23), ("val/heads/acc/accuracy", 0.5), ...;
    None (a gradient ratio without a CE term) and non-numbers are skipped."""
    for key, value in record.items():
        tag = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from scalar_leaves(value, tag + "/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield tag, float(value)


def tensorboard_available() -> bool:
    """Whether torch's SummaryWriter imports (it needs the tensorboard package, in a version torch accepts),
    checked before training so a missing package fails at the start, not after the first epoch."""
    try:
        importlib.import_module("torch.utils.tensorboard")
    except ImportError:
        return False
    return True


class TensorBoardScalars:
    """A TensorBoard copy of metrics.jsonl under <stage>/tb/: each epoch's numeric figures, step = epoch.

    `first_epoch` (1-based) is the first epoch this process writes: TensorBoard hides every event of an
    earlier process at that step or later, so a resumed or restarted stage shows each epoch once, as
    metrics.jsonl does.
    """

    def __init__(self, stage_dir: Path, first_epoch: int):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(stage_dir) / TENSORBOARD_DIR), purge_step=first_epoch)

    def write(self, record: dict) -> None:
        """One metrics.jsonl record; flushed at once, so an interrupted run keeps its finished epochs."""
        for tag, value in scalar_leaves(record):
            if tag != "epoch":
                self.writer.add_scalar(tag, value, global_step=record["epoch"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
