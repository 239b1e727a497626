"""The one base of every distilled student (SAKDN, VSKD, sensor2sensor), after mdistiller's Distiller.

    L = CE(student logits, labels; rows with a label only) + sum_t w_t * term_t(student, teacher)

over every row of the batch: the labelled rows and, with --distill-unlabelled, the paired rows whose
labels are withheld (training.data.loaders). A distillation term reads the two networks' outputs, never a
label, which is what lets it learn from takes without one. The base owns what every method shares:

    the frozen teacher     freeze() once, kept in eval mode by Stage.train, left out of checkpoints
    teacher_output(batch)  the teacher's output of a batch, under no_grad: the one place a teacher
                           runs; where teacher_cacheable(), cache_teacher() computes it once per take
                           (training.recipes.teacher_cache) and training batches are answered from it
    --kd NAME              the KD_BASELINES loss replaces the method's terms (weight --kd-weight)
    --ablate / weights     a term that is ablated or weighted 0 is neither computed nor logged

A method is a subclass of the student's classifier stage (recipes.classifiers) and this base; it
names its TERMS, their weights, how the student and the teacher read a batch, and method_terms.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.autograd.profiler import record_function

from training.data.loaders import Batch, Loader, Needs
from training.engine.trainer import Stage, StepOutput
from training.models.output import NetOutput
from training.options import RunOptions
from training.recipes.common import baseline_kd, freeze
from training.recipes.teacher_cache import TeacherCache, build_cache, teacher_key


class DistilledStudent(Stage):
    """Base of a student distilled from a frozen teacher (module docstring). Subclasses call
    `distil_from` after their classifier's __init__ and implement the three methods below."""

    TERMS: tuple[str, ...] = ()  # the method's own distillation terms
    distils = True
    teacher_cache: TeacherCache | None = None

    def distil_from(self, teacher: nn.Module, weights: Mapping[str, float], options: RunOptions,
                    baseline_taps: tuple[Sequence[str], Sequence[str]]) -> None:
        """Freeze `teacher`, and weigh the method's TERMS (`weights`, less --ablate and zero weights) or,
        with --kd NAME, the baseline loss built on (student taps, teacher taps)."""
        self.teacher = freeze(teacher)
        self.kd_name = options.kd
        if options.kd is not None:
            student_taps, teacher_taps = baseline_taps
            self.kd, weight = baseline_kd(options.kd, options.kd_weight, student_taps=student_taps,
                                          teacher_taps=teacher_taps, embed_dim=self.net.embed_dim,
                                          temperature=options.temperature)
            self.weights = {f"kd_{options.kd}": weight}
        else:
            self.weights = {t: float(weights[t]) for t in self.TERMS if t not in options.ablate and weights[t] != 0}

    def frozen_modules(self) -> list[nn.Module]:
        return [self.teacher]

    def student_output(self, batch: Batch) -> NetOutput:
        raise TypeError(f"{type(self).__name__} must implement student_output(batch)")

    def teacher_output(self, batch: Batch) -> NetOutput:
        """The frozen teacher's output of `batch` (called under no_grad)."""
        raise TypeError(f"{type(self).__name__} must implement teacher_output(batch)")

    def method_terms(self, student: NetOutput, teacher: NetOutput, batch: Batch) -> dict[str, Tensor]:
        """The unweighted terms named in self.weights (at least those)."""
        raise TypeError(f"{type(self).__name__} must implement method_terms(student, teacher, batch)")

    def teacher_cacheable(self) -> bool:
        """True where the teacher's output of a take is the same in every epoch (its input is not
        augmented) and the terms read only what compact_teacher keeps; the default: no."""
        return False

    def compact_teacher(self, output: NetOutput) -> NetOutput:
        """The part of a teacher output the terms read: what a teacher cache keeps (default: all of it)."""
        return output

    def cache_teacher(self, loader: Loader, store_digest: str, autocast) -> TeacherCache:
        """Compute the teacher's (compacted) output of every take `loader` trains on, once; training
        batches are then answered from it (training.recipes.teacher_cache)."""
        self.teacher_cache = None
        self.teacher.eval()
        key = teacher_key(self.teacher, store_digest, self.gaf_size)
        passes = loader.take_pass(Needs(modalities=self.train_needs.modalities))
        self.teacher_cache = build_cache(key, passes, lambda b: self.compact_teacher(self.teacher_output(b)),
                                         self.live_ablated_teacher, autocast)
        return self.teacher_cache

    def live_ablated_teacher(self, batch: Batch) -> NetOutput | None:
        """The teacher's output of an all-zero input shaped like `batch`'s, where a term reads it (default: none)."""
        return None

    def ablated_teacher(self, batch: Batch) -> NetOutput | None:
        """live_ablated_teacher, answered from the cache (its one row repeated) when there is one."""
        cache = self.teacher_cache
        if cache is not None and cache.ablated is not None:
            return cache.ablated_rows(len(batch))
        return self.live_ablated_teacher(batch)

    def teacher_of(self, batch: Batch) -> NetOutput:
        """The teacher's output of a batch: from the cache where it holds every take, else computed."""
        cache = self.teacher_cache
        if cache is None:
            return self.teacher_output(batch)
        return cache.output(batch.take) if cache.covers(batch.take) else self.compact_teacher(self.teacher_output(batch))

    def forward(self, batch: Batch) -> StepOutput:
        """The step's loss; its parts run in named profiler scopes (student_forward, teacher_forward,
        terms: bench/train.py splits a step by them)."""
        with record_function("student_forward"):
            student = self.student_output(batch)
        with torch.no_grad(), record_function("teacher_forward"):
            teacher = self.teacher_of(batch)
        with record_function("terms"):
            if self.kd_name is not None:
                raw = {f"kd_{self.kd_name}": self.kd(student, teacher)}
            else:
                raw = self.method_terms(student, teacher, batch)
        terms = {"ce": self.cross_entropy(student.logits, batch.label)}
        terms.update({name: weight * raw[name] for name, weight in self.weights.items()})
        return StepOutput(loss=sum(terms.values()), terms=terms, logits=student.logits)
