"""Train/test selection of a split protocol as boolean masks over metadata columns.

A protocol entry of datasets.yaml is `{train: {column: [values]}, test: {column: [values]}}`;
a row belongs to a side when, for every column the side names, its value is one of the listed
values. Columns are take columns (subject, trial, scene, session, label) or clip columns (camera),
so one function serves takes and clips alike.

A protocol FAMILY `{leave_one_out: column, over: [values]}` stands for one fold per value v,
named `<family>-<v>`: train on the other values, test on v (e.g. leave-one-subject-out over the
training subjects). expand_protocols turns the families into their folds.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def expand_protocols(entries: Mapping[str, Mapping]) -> tuple[dict[str, dict], dict[str, tuple[str, ...]]]:
    """(protocols, families): every concrete protocol of `entries` (each family replaced by its folds)
    and each family's fold names in order."""
    protocols: dict[str, dict] = {}
    families: dict[str, tuple[str, ...]] = {}
    for name, entry in entries.items():
        if "leave_one_out" not in entry:
            protocols[name] = dict(entry)
            continue
        column, values = entry["leave_one_out"], list(entry["over"])
        if len(values) < 2:
            raise ValueError(f"protocol family {name!r} leaves one {column} out of {values}: it needs two or more")
        folds = {f"{name}-{v}": {"train": {column: [u for u in values if u != v]}, "test": {column: [v]}}
                 for v in values}
        protocols.update(folds)
        families[name] = tuple(folds)
    return protocols, families


def side_mask(columns: Mapping[str, np.ndarray], condition: Mapping[str, list]) -> np.ndarray:
    """(n,) bool: rows whose value in every named column is one of the listed values."""
    if not columns:
        raise ValueError("split_masks needs at least one column")
    n = len(next(iter(columns.values())))
    mask = np.ones(n, dtype=bool)
    for column, values in condition.items():
        if column not in columns:
            raise ValueError(
                f"split protocol filters on column {column!r}, which these rows lack "
                f"(have: {', '.join(sorted(columns))})"
            )
        mask &= np.isin(np.asarray(columns[column]), np.asarray(values))
    return mask


def split_masks(
    columns: Mapping[str, np.ndarray], protocol: Mapping
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) boolean masks of shape (n,) for one protocol entry of datasets.yaml."""
    for side in ("train", "test"):
        if side not in protocol:
            raise ValueError(f"split protocol {dict(protocol)!r} has no {side!r} side")
    return side_mask(columns, protocol["train"]), side_mask(columns, protocol["test"])
