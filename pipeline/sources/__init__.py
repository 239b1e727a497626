"""One module per raw layout; each knows file names and formats, nothing about stores or models.

`get_source(layout)` returns the module for a layout of datasets.yaml; every module exposes
`scan(root, spec, modalities=None) -> Scan` and `read_stream(path, modality) -> SensorStream`.
"""
from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from pipeline.config import DatasetSpec
from pipeline.records import Clip, SourceError, Take

LAYOUT_MODULES = {
    "utd-mhad": "pipeline.sources.utd_mhad",
    "berkeley-mhad": "pipeline.sources.berkeley_mhad",
    "mmact": "pipeline.sources.mmact",
}

__all__ = ["LAYOUT_MODULES", "Scan", "SourceError", "get_source", "index_of", "requested_modalities", "walk_files"]


@dataclass
class Scan:
    """What a source found in a raw tree.

    takes: sorted by key; clips: sorted by (take_key, camera); problems: one line per skipped or odd
    file; missing_modalities: requested sensor modalities with no file at all in the tree;
    frame_time_files: take key -> camera time-stamp file (Berkeley-MHAD only, empty elsewhere).
    """

    takes: list[Take]
    clips: list[Clip]
    problems: list[str]
    missing_modalities: list[str]
    frame_time_files: dict[str, Path] = field(default_factory=dict)


def get_source(layout: str) -> ModuleType:
    """The source module of `layout` (utd-mhad | berkeley-mhad | mmact)."""
    if layout not in LAYOUT_MODULES:
        raise ValueError(f"unknown layout {layout!r}; known layouts: {', '.join(LAYOUT_MODULES)}")
    return importlib.import_module(LAYOUT_MODULES[layout])


def requested_modalities(spec: DatasetSpec, modalities: Collection[str] | None) -> tuple[str, ...]:
    """The spec's sensor modalities in spec order, restricted to `modalities` when given."""
    if modalities is None:
        return spec.modalities
    unknown = sorted(set(modalities) - set(spec.modalities))
    if unknown:
        raise ValueError(
            f"{spec.name}: unknown sensor modalities {unknown}; the dataset declares {list(spec.modalities)}"
        )
    return tuple(m for m in spec.modalities if m in modalities)


def walk_files(
    root: Path, prune: Callable[[Path, str], bool] | None = None
) -> Iterator[tuple[Path, os.DirEntry]]:
    """Yield (folder, file entry) for every regular file under `root`, folders in name order.

    prune(folder, child_name) -> True skips descending into folder/child_name (e.g. frame folders).
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceError(f"{root}: raw dataset folder not found")
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(f"{folder}: cannot list folder ({exc.strerror})") from exc
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                if prune is None or not prune(folder, entry.name):
                    subfolders.append(Path(entry.path))
            elif entry.is_file():
                yield folder, entry
        stack.extend(reversed(subfolders))


def add_sensor_file(sensor_files: dict[str, dict[str, Path]], key: str, modality: str, path: Path,
                    problems: list[str]) -> bool:
    """Record `path` as take `key`'s `modality` file; a second file for the same slot is a problem line."""
    files = sensor_files.setdefault(key, {})
    if modality in files:
        problems.append(f"{path}: duplicate of {files[modality]} (skipped)")
        return False
    files[modality] = path
    return True


def index_of(pattern: str, name: str) -> int | None:
    """The integer captured by `pattern` (one group, case-insensitive full match) in `name`, or None."""
    match = re.fullmatch(pattern, name, flags=re.IGNORECASE)
    return int(match.group(1)) if match else None
