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
from torch import nn

from training.data.loaders import Batch, Loader
from training.models.output import NetOutput, map_tensors, tensors_of

def teacher_key(teacher: nn.Module, store_digest: str, input_size: int | None) -> str:
    """sha256 (16 hex digits) of the teacher's weights and buffers, the store's config digest and the input size."""
    digest = hashlib.sha256(f"{store_digest}:{input_size}".encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class TeacherCache:
    """One run's teacher outputs by take (module docstring): `rows` maps a store take row to its row of
    `outputs` (a NetOutput of (takes, ...) tensors; -1: not cached); `ablated` the one-row zero-input output."""

    def __init__(self, key: str, takes: np.ndarray, outputs: NetOutput, ablated: NetOutput | None, seconds: float):
        self.key, self.outputs, self.ablated, self.seconds = key, outputs, ablated, seconds
        self.rows = np.full(int(takes.max()) + 1 if len(takes) else 0, -1, dtype=np.int64)
        self.rows[takes] = np.arange(len(takes))

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in tensors_of(self.outputs))

    def __len__(self) -> int:
        return int((self.rows >= 0).sum())

    def covers(self, takes: np.ndarray) -> bool:
        return bool(len(takes)) and int(takes.max()) < len(self.rows) and bool((self.rows[takes] >= 0).all())

    def ablated_rows(self, rows: int) -> NetOutput:
        """The cached zero-input output, its one row repeated `rows` times (no copy)."""
        return map_tensors(lambda t: t.expand(rows, *t.shape[1:]), self.ablated)

    def output(self, takes: np.ndarray) -> NetOutput:
        """The cached output of these take rows (all covered), in their order."""
        index = torch.as_tensor(self.rows[takes], device=self.outputs.logits.device)
        return map_tensors(lambda t: t[index], self.outputs)


def build_cache(key: str, loader: Loader, answer: Callable[[Batch], NetOutput],
                ablated: Callable[[Batch], NetOutput] | None, autocast) -> TeacherCache:
    """Run `answer` (the compacted teacher output, under no_grad) over one pass of `loader` (an
    evaluation pass over distinct takes) and keep its rows; `ablated` (if any: it may answer None, no
    term reads it) on the first batch, one row."""
    started, takes, outputs, zero = time.perf_counter(), [], [], None
    with torch.no_grad(), autocast():
        for batch in loader.epoch(0):
            takes.append(batch.take)
            outputs.append(answer(batch))
            first_ablated = ablated(batch) if ablated is not None and len(takes) == 1 else None
            if first_ablated is not None:
                zero = map_tensors(lambda t: t[:1].clone(), first_ablated)
    joined = map_tensors(lambda *parts: torch.cat(parts), *outputs)
    return TeacherCache(key, np.concatenate(takes), joined, zero, time.perf_counter() - started)
