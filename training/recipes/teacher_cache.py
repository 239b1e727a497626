"""Frozen teachers answered from a cache: each take's teacher output computed once per run.

A distilled student's teacher is frozen and runs in eval mode, where it answers each row on its own
(the trainer's tests pin this for every network, SPAMFM included). Where the teacher's input is not
augmented (SAKDN's VGG16-BN teachers read GAF images, only resized), its output for a take is the same
in every epoch. TeacherCache runs the teacher once over the distinct takes of the student's training
rows (labelled and paired), in evaluation batches under the step's autocast, keeps the fields the
student's terms read (DistilledStudent.compact_teacher: SAKDN keeps GSDM's taps summed over channels,
which is all GSDM's "mean" weighting reads of a teacher map) and answers each training batch by a
gather of rows: a student epoch runs no teacher forward. The teacher's answer to the all-zero input
(GSDM's ablated pass) does not depend on the batch and is cached as one row.

The cache lives for one run, in the place of the run's arrays (the device or host RAM); its `key` (the
teacher's weights, the store's config digest, the input size) is logged with its size and build time.
A batch with a take outside the cache (validation, test) is answered live.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from training.data.loaders import Batch, Loader
from training.models.output import NetOutput

Fields = dict[tuple[str, ...], Tensor]  # a NetOutput's tensors by path, e.g. ("taps", "acc.block3")


def flatten(output: NetOutput) -> Fields:
    """Every tensor of a NetOutput by its path: logits, embedding, taps/<name>, extras/<key>[/<name>]."""
    fields: Fields = {("logits",): output.logits, ("embedding",): output.embedding}
    fields.update({("taps", name): tap for name, tap in output.taps.items()})
    for key, value in output.extras.items():
        if isinstance(value, Tensor):
            fields[("extras", key)] = value
        else:
            fields.update({("extras", key, name): tensor for name, tensor in value.items()})
    return fields


def unflatten(fields: Fields) -> NetOutput:
    """The NetOutput of flatten's fields."""
    taps = {path[1]: t for path, t in fields.items() if path[0] == "taps"}
    extras: dict = {}
    for path, tensor in fields.items():
        if path[0] == "extras" and len(path) == 2:
            extras[path[1]] = tensor
        elif path[0] == "extras":
            extras.setdefault(path[1], {})[path[2]] = tensor
    return NetOutput(logits=fields[("logits",)], embedding=fields[("embedding",)], taps=taps, extras=extras)


def teacher_key(teacher: nn.Module, store_digest: str, input_size: int | None) -> str:
    """sha256 (16 hex digits) of the teacher's weights and buffers, the store's config digest and the input size."""
    digest = hashlib.sha256(f"{store_digest}:{input_size}".encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class TeacherCache:
    """One run's teacher outputs by take (module docstring): `rows` maps a store take row to its cached
    row (-1: not cached); `fields` hold (takes, ...) tensors; `ablated` the one-row zero-input output."""

    def __init__(self, key: str, takes: np.ndarray, fields: Fields, ablated: NetOutput | None, seconds: float):
        self.key, self.fields, self.ablated, self.seconds = key, fields, ablated, seconds
        self.rows = np.full(int(takes.max()) + 1 if len(takes) else 0, -1, dtype=np.int64)
        self.rows[takes] = np.arange(len(takes))

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.fields.values())

    def __len__(self) -> int:
        return int((self.rows >= 0).sum())

    def covers(self, takes: np.ndarray) -> bool:
        return bool(len(takes)) and int(takes.max()) < len(self.rows) and bool((self.rows[takes] >= 0).all())

    def ablated_rows(self, rows: int) -> NetOutput:
        """The cached zero-input output, its one row repeated `rows` times (no copy)."""
        return unflatten({path: t.expand(rows, *t.shape[1:]) for path, t in flatten(self.ablated).items()})

    def output(self, takes: np.ndarray) -> NetOutput:
        """The cached output of these take rows (all covered), in their order."""
        index = torch.as_tensor(self.rows[takes], device=next(iter(self.fields.values())).device)
        return unflatten({path: tensor[index] for path, tensor in self.fields.items()})


def build_cache(key: str, loader: Loader, answer: Callable[[Batch], NetOutput],
                ablated: Callable[[Batch], NetOutput] | None, autocast) -> TeacherCache:
    """Run `answer` (the compacted teacher output, under no_grad) over one pass of `loader` (an
    evaluation pass over distinct takes) and keep its rows; `ablated` (if any: it may answer None, no
    term reads it) on the first batch, one row."""
    started, takes, parts, zero = time.perf_counter(), [], {}, None
    with torch.no_grad(), autocast():
        for batch in loader.epoch(0):
            takes.append(batch.take)
            for path, tensor in flatten(answer(batch)).items():
                parts.setdefault(path, []).append(tensor)
            first_ablated = ablated(batch) if ablated is not None and len(takes) == 1 else None
            if first_ablated is not None:
                zero = unflatten({p: t[:1].clone() for p, t in flatten(first_ablated).items()})
    fields = {path: torch.cat(tensors) for path, tensors in parts.items()}
    return TeacherCache(key, np.concatenate(takes), fields, zero, time.perf_counter() - started)
