"""Paired training data read from a prepared store.

Rows are clips (video-side training: each clip with the sensors of ITS take) or takes
(sensor-only training: each take, with one of its own clips when a video teacher needs one).
Every Batch therefore holds the modalities of the same recordings: batch.take[i] is the take of
batch.clip[i], and batch.label[i] is that take's label.

Selection: the protocol of datasets.yaml picks train/test rows from metadata columns (clip rows
see their take's columns plus camera); rows whose recording failed or lacks a needed modality
are left out and counted per reason; a validation split is carved from the TRAINING rows by
holding out whole training subjects (seeded), so it shares no subject with the rows trained on.
A training fraction F < 1 keeps a class-stratified share of the remaining training takes as the
LABELLED rows; the others (same subjects, never validation or test ones) are the unlabelled rows.

Distillation on paired rows without labels (`paired=True`, a distilling stage with
--distill-unlabelled): each training batch is the labelled batch the CE-only baseline would see
(same rows, order and augmentation), followed by a batch of as many rows drawn from ALL training
rows (labelled and unlabelled) whose labels are replaced by UNLABELLED. Cross-entropy and the
training accuracy read only rows with a label; the distillation terms read every row. An epoch
counts labelled rows, so student and baseline make the same number of optimiser steps.

Each rank reads only its share of a split's rows (training.data.sampler). Its arrays (frames uint8;
per sensor GAF float16, or for raw-signal encoders the stream on a shared time grid,
training.data.streams) are loaded once onto the device or into host RAM, or streamed from the store
batch by batch (training.data.residency). A batch is a gather of them plus batched augmentation on the
device (streams: amplitude and shift, training.data.streams.augment_streams; frames: TSN sampling (a
random candidate frame per segment in training, the centre one in evaluation), multi-scale crop +
flip (training) or centre crop (evaluation), and input normalisation). An evaluation may score
several deterministic views of each clip (Views: candidates x crops, the TSN / mmaction2 multi-view
test); a batch's frames are gathered once and each view is cropped from them in turn.
With video_input "motion" each normalised segment frame has the clip's mean frame (over its
segments) subtracted: the static background and body cancel and what moves remains, a cheap
stand-in for TSN's RGB-difference input.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from pipeline.config import DatasetSpec
from pipeline.sampling import random_candidates, view_candidates
from pipeline.splits import split_masks
from pipeline.store import OK, PENDING, Store
from pipeline.units import parse_size
from training.data.augment import crop_affine, crop_resize, multiscale_boxes, resize_images, view_boxes
from training.data.residency import (IN_MEMORY, BatchPlan, RawBatch, Resident, Residency, StoreReader, StreamGrid,
                                choose_residency, selection_bytes)
from training.data.sampler import epoch_order, rank_share
from training.data.streams import augment_streams, grid_points
from training.options import DataOptions, OptionsError

CLIPS, TAKES = "clips", "takes"
UNLABELLED = -1  # the label of a batch row whose label is withheld (Batch.labelled)


class DataError(ValueError):
    """A store that cannot serve this run (wrong dataset, modality absent, no rows); one line."""


@dataclass(frozen=True)
class Needs:
    """What a network consumes: video frames and/or the sensor input (GAF or stream) of these modalities."""

    video: bool = False
    modalities: tuple[str, ...] = ()


def check_store(store: Store, spec: DatasetSpec, needs: Needs) -> None:
    """Raise DataError when `store` is not a store of `spec` that holds what `needs` asks for."""
    if store.dataset != spec.name:
        raise DataError(f"{store.path}: store holds dataset {store.dataset!r}, not {spec.name!r}")
    if list(store.class_names) != list(spec.classes):
        raise DataError(f"{store.path}: class names differ from datasets.yaml's {spec.name!r} (re-run prepare)")
    if needs.video and not store.has_video:
        raise DataError(f"{store.path}: store holds no video, which this stage needs (prepare it with video)")
    missing = [m for m in needs.modalities if m not in store.modalities]
    if missing:
        raise DataError(
            f"{store.path}: sensor modality {', '.join(missing)} absent "
            f"(store holds: {', '.join(store.modalities) or 'none'})"
        )


def row_columns(store: Store, unit: str) -> dict[str, np.ndarray]:
    """Integer metadata columns of each row: take columns, plus camera and take for clip rows."""
    source = store.clip_columns() if unit == CLIPS else store.takes
    return {k: v for k, v in source.items() if np.asarray(v).dtype.kind in "iub"}


def ok_clips_per_take(store: Store) -> list[np.ndarray]:
    """For each take, the rows of its clips whose status is ok (ascending)."""
    ok = np.flatnonzero(store.clips["status"] == OK)
    takes = store.clips["take"][ok]
    order = np.argsort(takes, kind="stable")
    bounds = np.searchsorted(takes[order], np.arange(store.num_takes + 1))
    return [ok[order[bounds[t]:bounds[t + 1]]] for t in range(store.num_takes)]


def exclusion_reasons(store: Store, unit: str, needs: Needs) -> dict[str, np.ndarray]:
    """reason -> (rows,) bool of the rows that `needs` cannot use, in check order.

    A clip serves video when its status is ok; a take serves a modality when that modality is
    present (read and written; a take whose OTHER modality failed keeps the ones that worked).
    """
    take_of_row = store.clips["take"] if unit == CLIPS else np.arange(store.num_takes)
    reasons: dict[str, np.ndarray] = {}
    if needs.video:
        if unit == CLIPS:
            reasons["video failed"] = store.clips["status"] != OK
        else:
            reasons["no usable video"] = np.array([len(c) == 0 for c in ok_clips_per_take(store)], dtype=bool)
    if needs.modalities:
        reasons["sensors not prepared"] = store.takes["status"][take_of_row] == PENDING
        for modality in needs.modalities:  # present: this modality's stream was read and written
            reasons[f"{modality} absent"] = ~store.sensor_info(modality)["present"][take_of_row]
    return reasons


def _first_reason_counts(rows: np.ndarray, reasons: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, int]]:
    """Rows that pass every check, and for each reason the rows it is the first to reject."""
    keep = np.ones(len(rows), dtype=bool)
    counts: dict[str, int] = {}
    for reason, bad in reasons.items():
        rejected = keep & bad[rows]
        if rejected.any():
            counts[reason] = int(rejected.sum())
        keep &= ~rejected
    return rows[keep], counts


@dataclass(frozen=True)
class Selection:
    """Row indices (into store.clips or store.takes) of each split, and what was left out."""

    unit: str
    protocol: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    val_subjects: tuple[int, ...]
    excluded: dict[str, dict[str, int]]  # side (train | test) -> reason -> rows left out
    unlabelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # training rows outside the fraction

    def summary(self) -> dict:
        return {
            "unit": self.unit, "protocol": self.protocol,
            "rows": {"train": len(self.train), "val": len(self.val), "test": len(self.test),
                     "unlabelled": len(self.unlabelled)},
            "val_subjects": list(self.val_subjects), "excluded": self.excluded,
        }


def pick_val_subjects(subjects: np.ndarray, fraction: float, seed: int) -> tuple[int, ...]:
    """round(fraction * n) (at least 1 when fraction > 0 and n >= 2) of the distinct subjects, seeded."""
    distinct = np.unique(subjects)
    if fraction <= 0 or len(distinct) < 2:
        return ()
    count = min(len(distinct) - 1, max(1, int(round(fraction * len(distinct)))))
    chosen = np.random.default_rng([seed, 0x5A1]).choice(distinct, size=count, replace=False)
    return tuple(int(s) for s in np.sort(chosen))


def stratified_subset(takes: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """(rows,) bool: the rows of a class-stratified share of the distinct takes.

    Per class, max(1, round(fraction * n)) of its n takes, in the order of one seeded permutation per
    class, so the subsets of one seed are nested (1/4 inside 1/2 inside 1). Every clip of a chosen
    take is kept.
    """
    if fraction >= 1.0:
        return np.ones(len(takes), dtype=bool)
    chosen = []
    for label in np.unique(labels):
        distinct = np.unique(takes[labels == label])
        order = np.random.default_rng([seed, int(label), 0xF4AC]).permutation(len(distinct))
        chosen.append(distinct[order[:max(1, int(round(fraction * len(distinct))))]])
    return np.isin(takes, np.concatenate(chosen))


def select(
    store: Store, spec: DatasetSpec, protocol: str, unit: str, train_needs: Needs, eval_needs: Needs,
    val_fraction: float = 0.2, val_subjects: Sequence[int] = (), seed: int = 0, train_fraction: float = 1.0,
) -> Selection:
    """Train/val/test rows of `protocol`: training rows must serve `train_needs`, evaluation rows `eval_needs`;
    train_fraction < 1 keeps a stratified share of the training takes (after the validation subjects are held
    out) as `train`, the rest of them as `unlabelled`."""
    columns = row_columns(store, unit)
    try:
        train_mask, test_mask = split_masks(columns, spec.protocols[protocol])
    except ValueError as error:
        raise DataError(f"protocol {protocol!r} of {spec.name} cannot select {unit}: {error}") from None
    train, train_excluded = _first_reason_counts(np.flatnonzero(train_mask), exclusion_reasons(store, unit, train_needs))
    test, test_excluded = _first_reason_counts(np.flatnonzero(test_mask), exclusion_reasons(store, unit, eval_needs))
    subject = columns["subject"]
    if val_subjects:
        unknown = sorted(set(val_subjects) - set(subject[train].tolist()))
        if unknown:
            raise DataError(f"--val-subjects {unknown} are not training subjects of protocol {protocol!r}")
        held = tuple(sorted(int(s) for s in val_subjects))
    else:
        held = pick_val_subjects(subject[train], val_fraction, seed)
    in_val = np.isin(subject[train], held)
    val, val_excluded = _first_reason_counts(train[in_val], exclusion_reasons(store, unit, eval_needs))
    train = train[~in_val]
    take_of_row = store.clips["take"][train] if unit == CLIPS else train
    labelled = stratified_subset(take_of_row, store.takes["label"][take_of_row], train_fraction, seed)
    train, unlabelled = train[labelled], train[~labelled]
    for reason, count in val_excluded.items():
        train_excluded[reason] = train_excluded.get(reason, 0) + count
    if len(train) == 0 or len(test) == 0:
        raise DataError(
            f"{store.path}: protocol {protocol!r} leaves {len(train)} training and {len(test)} test {unit} "
            f"(excluded: train {train_excluded}, test {test_excluded})"
        )
    return Selection(unit, protocol, train, val, test, held, {"train": train_excluded, "test": test_excluded},
                     unlabelled)


def segment_slots(stored_segments: int, candidates: int, segments: int) -> np.ndarray:
    """Stored frame slots of `segments` evenly spaced segments (all their candidates), shape (segments*candidates,)."""
    if segments > stored_segments:
        raise DataError(f"--segments {segments} exceeds the {stored_segments} segments stored")
    chosen = np.floor((np.arange(segments) + 0.5) * stored_segments / segments).astype(np.int64)
    return (chosen[:, None] * candidates + np.arange(candidates)[None, :]).reshape(-1)


@dataclass(frozen=True)
class Views:
    """The views an evaluation scores of each clip, and over which it averages the logits.

    `clips` candidate frames per segment (pipeline.sampling.view_candidates, evenly spread over the
    stored candidates, as mmaction2's test-mode num_clips) times `crops` crop boxes (1: centre; 3:
    mmaction2's ThreeCrop along the longer side, training.data.augment.view_boxes), clip-major. All are
    deterministic; Views() is the single centre view that training and a plain evaluation use.
    """

    clips: int = 1
    crops: int = 1

    def __post_init__(self):
        if self.clips < 1 or self.crops not in (1, 3):
            raise OptionsError(f"test views: --test-clips must be >= 1 and --test-crops 1 or 3, "
                               f"got {self.clips} and {self.crops}")

    @property
    def count(self) -> int:
        return self.clips * self.crops

    def pairs(self) -> list[tuple[int, int]]:
        """(clip view, crop view) of each view, in scoring order."""
        return [(v, c) for v in range(self.clips) for c in range(self.crops)]

    def describe(self) -> str:
        return f"{self.clips} clip{'s' * (self.clips > 1)} x {self.crops} crop{'s' * (self.crops > 1)}"


def check_views(store: Store, views: Views) -> None:
    """Raise DataError when the store holds fewer candidates per segment than views.clips."""
    if views.clips > store.candidates:
        raise DataError(f"{store.path}: --test-clips {views.clips} exceeds the {store.candidates} candidate "
                        "frames stored per segment")


@dataclass
class Batch:
    """Paired modalities of B recordings. take / clip are store rows (clip -1: no video in this batch)."""

    label: Tensor  # (B,) int64, on the device
    take: np.ndarray  # (B,) int64
    clip: np.ndarray  # (B,) int64
    video: Tensor | None = None  # (B, S, 3, h, w) float, normalised
    sensors: dict[str, Tensor] = field(default_factory=dict)  # modality -> GAF (B, 3, g, g) or stream (B, 4, T) float32

    def __len__(self) -> int:
        return len(self.take)

    @property
    def labelled(self) -> Tensor:
        """(B,) bool: the rows whose label may be read (the others carry UNLABELLED)."""
        return self.label != UNLABELLED


def join_batches(first: Batch, second: Batch) -> Batch:
    """The rows of `first` followed by those of `second` (same modalities)."""
    video = torch.cat([first.video, second.video]) if first.video is not None else None
    return Batch(label=torch.cat([first.label, second.label]), take=np.concatenate([first.take, second.take]),
                 clip=np.concatenate([first.clip, second.clip]), video=video,
                 sensors={m: torch.cat([x, second.sensors[m]]) for m, x in first.sensors.items()})


class Loader:
    """Batches over one rank's rows of a split; `epoch(e)` yields them, shuffled and augmented when `train`.

    `rows` is this rank's share (training.data.sampler.rank_share). Each epoch visits them in
    training.data.sampler.epoch_order from the stream (seed, epoch, rank); training drops the last
    partial batch. Batch i of an epoch draws from its own stream (seed, epoch, rank, i): its
    BatchPlan is made first, then `source` gathers its arrays (Resident or StoreReader), then the
    augmentation runs on the device. An epoch's batches so depend neither on what ran before (exact
    --resume) nor on where the arrays live. An evaluation loader with several `views` (Views) plans
    every view's frame slots and crop boxes at once; `view_epoch` yields each batch once per view.
    With `paired` (this rank's share of every training row) each training batch is followed by
    batch_size rows drawn from it with the stream (seed, epoch, rank, 2, i), labels withheld
    (module docstring): the labelled half is exactly the batch a loader without `paired` yields.
    """

    def __init__(self, source: Resident | StoreReader, store: Store, rows: np.ndarray, unit: str, needs: Needs,
                 batch_size: int, train: bool, options: DataOptions, segments: int, candidates: int,
                 frame_shape: tuple[int, int], normalize: Callable[[Tensor], Tensor] | None,
                 seed: int = 0, rank: int = 0, shuffle: str = "rows", channels_last: bool = False,
                 views: Views = Views(), paired: np.ndarray | None = None):
        self.source, self.store = source, store
        self.rows, self.unit, self.needs = np.asarray(rows, dtype=np.int64), unit, needs
        self.paired = np.asarray(paired, dtype=np.int64) if (train and paired is not None and len(paired)) else None
        self.train, self.options, self.seed, self.rank, self.shuffle = train, options, seed, rank, shuffle
        self.segments, self.candidates, self.frame_shape = segments, candidates, frame_shape
        self.normalize, self.channels_last = normalize, channels_last
        self.views = Views() if train else views
        self.batch_size = max(1, min(batch_size, len(self.rows))) if train else batch_size
        self.labels = torch.as_tensor(store.takes["label"], dtype=torch.long)
        self.take_of_clip = store.clips["take"]
        self.take_block = store.layout.take_block
        self.clips_of_take = ok_clips_per_take(store) if (unit == TAKES and needs.video) else None

    def take_pass(self, needs: Needs) -> Loader:
        """An evaluation loader (no shuffle, no augmentation, every row) over the distinct takes this
        loader's rows and paired rows belong to, serving `needs` from the same source: one pass
        computes what depends only on a take (training.recipes.teacher_cache)."""
        rows = self.rows if self.paired is None else np.concatenate([self.rows, self.paired])
        takes = np.unique(self.take_of_clip[rows] if self.unit == CLIPS else rows)
        return Loader(self.source, self.store, takes, TAKES, needs, self.batch_size, False, self.options, self.segments,
                      self.candidates, self.frame_shape, None, self.seed, self.rank, channels_last=self.channels_last)

    def shard(self, epoch: int) -> np.ndarray:
        """This rank's rows for `epoch`, in batch order."""
        if not self.train:
            return self.rows
        takes = self.take_of_clip[self.rows] if self.unit == CLIPS else self.rows
        return epoch_order(self.rows, takes // self.take_block, np.random.default_rng([self.seed, epoch, self.rank]),
                           self.shuffle)

    def __len__(self) -> int:
        if self.train:
            return len(self.rows) // self.batch_size
        return -(-len(self.rows) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """The batches of one pass (class docstring), each in its first view; with `paired`, each joined
        by its paired rows without labels."""
        gathered = self.gathered(epoch)
        for plan, raw in gathered:
            batch = self.finish(plan, raw)
            if self.paired is not None:
                batch = join_batches(batch, self.finish(*next(gathered)))
            yield batch

    def view_epoch(self, epoch: int) -> Iterator[Iterator[Batch]]:
        """Per batch of one pass, its views one after another (self.views.pairs() order): the same rows
        and labels in each, the video of one view at a time (consume a batch's views before the next)."""
        for plan, raw in self.gathered(epoch):
            yield (self.finish(plan, raw, clip_view, crop_view) for clip_view, crop_view in self.views.pairs())

    def gathered(self, epoch: int) -> Iterator[tuple[BatchPlan, RawBatch]]:
        """Each batch's plan with its gathered arrays; all plans are made before any array is read."""
        rows = self.shard(epoch)
        plans = []
        for i in range(len(self)):
            plans.append(self.plan(rows[i * self.batch_size:(i + 1) * self.batch_size],
                                   np.random.default_rng([self.seed, epoch, self.rank, 1, i])))
            if self.paired is not None:
                plans.append(self._paired_plan(epoch, i))
        yield from zip(plans, self.source.batches(plans, self.needs.modalities))

    def _paired_plan(self, epoch: int, i: int) -> BatchPlan:
        """Batch i's paired rows: batch_size of `paired` (without replacement), their labels withheld."""
        rng = np.random.default_rng([self.seed, epoch, self.rank, 2, i])
        rows = self.paired[rng.choice(len(self.paired), size=min(self.batch_size, len(self.paired)), replace=False)]
        plan = self.plan(rows, rng)
        plan.labelled = False
        return plan

    def plan(self, rows: np.ndarray, rng: np.random.Generator) -> BatchPlan:
        """The takes and clips of these rows (clip or take rows), and the batch's frame draws."""
        if self.unit == CLIPS:
            clips, takes = rows, self.take_of_clip[rows]
        else:
            takes = rows
            clips = self._clip_per_take(takes, rng) if self.needs.video else np.full(len(rows), -1, dtype=np.int64)
        plan = BatchPlan(takes=takes, clips=clips, rng=rng)
        if self.needs.video:
            plan.slots = self.frame_slots(len(clips), rng)
            plan.boxes, plan.flips = self.crop_boxes(len(clips), rng)
        return plan

    def finish(self, plan: BatchPlan, raw: RawBatch, clip_view: int = 0, crop_view: int = 0) -> Batch:
        """The Batch of a plan from its gathered arrays: labels, the video crops of one view, sensor inputs."""
        label = (self.labels[torch.as_tensor(plan.takes)] if plan.labelled
                 else torch.full((len(plan.takes),), UNLABELLED, dtype=torch.long))
        label = label.to(self.source.device, non_blocking=True)
        batch = Batch(label=label, take=plan.takes, clip=plan.clips)
        if raw.frames is not None:
            frames = raw.frames[:, clip_view * self.segments:(clip_view + 1) * self.segments]
            batch.video = self._video(frames, plan.boxes[crop_view], plan.flips[crop_view])
        for modality in self.needs.modalities:
            batch.sensors[modality] = self._sensor(raw.sensors[modality], plan.rng)
        return batch

    def _sensor(self, raw: Tensor, rng: np.random.Generator) -> Tensor:
        """GAF images resized to options.gaf_size, or streams (augmented in training)."""
        if self.options.stream_seconds:
            return augment_streams(raw, rng, rotation=self.options.stream_rotation) if self.train else raw
        images = resize_images(raw, self.options.gaf_size or raw.shape[-1])
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def _clip_per_take(self, takes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One usable clip of each take: uniformly random in training, the first one in evaluation."""
        choices = [self.clips_of_take[t] for t in takes]
        if self.train:
            return np.array([c[rng.integers(len(c))] for c in choices], dtype=np.int64)
        return np.array([c[0] for c in choices], dtype=np.int64)

    def frame_slots(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, views.clips * segments) loaded frame slots: a random candidate per segment (train); in
        evaluation the candidates of clip view 0, then view 1, ... (view_candidates; one view: the centre one)."""
        if self.train:
            return random_candidates(rng, n, self.segments, self.candidates)
        slots = [view_candidates(v, self.views.clips, self.segments, self.candidates) for v in range(self.views.clips)]
        return np.tile(np.concatenate(slots), (n, 1))

    def crop_boxes(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(views.crops, n, 4) crop boxes and (views.crops, n) flips: multi-scale + random flip (train, one
        crop view), the boxes of each crop view unflipped (eval: view_boxes; one view: the centre crop)."""
        height, width = self.frame_shape
        if self.train:
            boxes = multiscale_boxes(rng, n, height, width, self.options.scales)
            flips = rng.random(n) < 0.5 if self.options.flip else np.zeros(n, dtype=bool)
            return boxes[None], flips[None]
        crops = self.views.crops
        boxes = np.stack([view_boxes(n, c, crops, height, width, self.options.eval_crop) for c in range(crops)])
        return boxes, np.zeros((crops, n), dtype=bool)

    def _video(self, frames: Tensor, boxes: np.ndarray, flips: np.ndarray) -> Tensor:
        """uint8 frames (B, segments, H, W, 3) cropped to (B, segments, 3, size, size) by boxes (B, 4), normalised."""
        theta = torch.from_numpy(crop_affine(boxes, flips, *self.frame_shape))
        video = crop_resize(frames, theta, self.options.crop_size)
        if self.normalize is not None:
            video = self.normalize(video)
        if self.options.video_input == "motion":
            video = video - video.mean(dim=1, keepdim=True)
        if self.channels_last:
            video = video.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, video.shape[:2])
        return video


@dataclass
class SplitData:
    """Everything a stage reads: the selection, where its arrays live, the source and one Loader per split built."""

    selection: Selection
    residency: Residency
    source: Resident | StoreReader
    train: Loader | None
    val: Loader | None
    test: Loader
    segments: int

    def close(self) -> None:
        """Release the source's reader processes (streaming); the loaders cannot be read afterwards."""
        self.source.close()


def _rows_to_load(store: Store, unit: str, shares: dict[str, np.ndarray], train_needs: Needs,
                  eval_needs: Needs) -> tuple[np.ndarray, np.ndarray]:
    """(clip rows, take rows) whose frames / sensor inputs this rank's shares read."""
    train = np.unique(np.concatenate([shares["train"], shares["paired"]]))
    evaluated = np.concatenate([shares["val"], shares["test"]])
    none = np.zeros(0, np.int64)
    if unit == CLIPS:
        take_of = store.clips["take"]
        take_rows = np.concatenate([take_of[train] if train_needs.modalities else none,
                                    take_of[evaluated] if eval_needs.modalities else none])
        return np.concatenate([train, evaluated]), take_rows
    per_take = ok_clips_per_take(store) if (train_needs.video or eval_needs.video) else []
    video_takes = [*(train if train_needs.video else []), *(evaluated if eval_needs.video else [])]
    return np.concatenate([none, *[per_take[t] for t in video_takes]]), np.concatenate([train, evaluated])


def _default_workers(residency: str, device: torch.device) -> int:
    """Streaming: reader processes, up to 4 and leaving a core to the step; in memory: 1 thread on CUDA, else 0."""
    if residency == "stream":
        return max(1, min(4, (os.cpu_count() or 2) - 1))
    return 1 if device.type == "cuda" else 0


def _place(store: Store, options: DataOptions, clip_rows: np.ndarray, take_rows: np.ndarray,
           modalities: tuple[str, ...], slots: np.ndarray | None, stream: StreamGrid | None,
           device: torch.device) -> tuple[Residency, Resident | StoreReader]:
    """Where this rank's arrays live (training.data.residency) and the source that serves their batches."""
    nbytes = selection_bytes(store, len(np.unique(clip_rows)), len(slots) if slots is not None else 0,
                             len(np.unique(take_rows)), modalities, stream)
    max_memory = parse_size(options.max_memory) if options.max_memory is not None else None
    residency = choose_residency(options.residency, nbytes, device, max_memory)
    workers = options.loader_workers if options.loader_workers is not None else _default_workers(residency.where, device)
    if residency.where in IN_MEMORY:
        return residency, Resident(store, clip_rows, take_rows, modalities, slots, device, residency.where, stream,
                                   workers)
    return residency, StoreReader(store, slots, device, stream, workers)


def build_data(
    store: Store, spec: DatasetSpec, options: DataOptions, unit: str, train_needs: Needs, eval_needs: Needs,
    batch_size: int, device: torch.device, normalize: Callable[[Tensor], Tensor] | None = None,
    seed: int = 0, rank: int = 0, world: int = 1, channels_last: bool = False, eval_batch_size: int | None = None,
    splits: Sequence[str] = ("train", "val", "test"), train_fraction: float = 1.0, views: Views = Views(),
    paired: bool = False,
) -> SplitData:
    """Check the store, select the rows of options.protocol, place this rank's arrays (training.data.residency),
    build the loaders of `splits`; the val and test loaders score `views` of each clip (eval_needs.video).
    With `paired` the training loader adds rows without labels from every training row (module docstring)."""
    modalities = tuple(dict.fromkeys(train_needs.modalities + eval_needs.modalities))
    check_store(store, spec, Needs(train_needs.video or eval_needs.video, modalities))
    if eval_needs.video:
        check_views(store, views)
    protocol = options.protocol or spec.default_protocol
    selection = select(store, spec, protocol, unit, train_needs, eval_needs,
                       options.val_fraction, options.val_subjects, seed, train_fraction)
    shares = {name: rank_share(getattr(selection, name), rank, world, seed, train=name == "train")
              if name in splits else np.zeros(0, np.int64) for name in ("train", "val", "test")}
    shares["paired"] = (rank_share(np.concatenate([selection.train, selection.unlabelled]), rank, world, seed,
                                   train=True) if paired and "train" in splits else np.zeros(0, np.int64))
    clip_rows, take_rows = _rows_to_load(store, unit, shares, train_needs, eval_needs)
    segments = options.segments or store.segments
    needs_video = (train_needs.video and "train" in splits) or eval_needs.video
    slots = segment_slots(store.segments, store.candidates, segments) if needs_video else None
    stream = None
    if options.stream_seconds:
        stream = StreamGrid(options.stream_seconds, grid_points(options.stream_seconds, options.stream_rate,
                                                                store.layout.signal_length),
                            {m: np.asarray(spec.sensors[m].range) for m in modalities})
    residency, source = _place(store, options, clip_rows if needs_video else np.zeros(0, np.int64), take_rows,
                               modalities, slots, stream, device)
    shuffle = options.shuffle if options.shuffle != "auto" else ("chunks" if residency.where == "stream" else "rows")
    frame_shape = tuple(store.layout.frame_size) if needs_video else (0, 0)
    common = dict(options=options, segments=segments, candidates=store.candidates, frame_shape=frame_shape,
                  normalize=normalize, seed=seed, rank=rank, shuffle=shuffle, channels_last=channels_last)

    def loader(name: str, needs: Needs) -> Loader:
        train_mode = name == "train"
        size = batch_size if train_mode else (eval_batch_size or batch_size)
        return Loader(source, store, shares[name], unit, needs, size, train_mode, views=views,
                      paired=shares["paired"] if paired and train_mode else None, **common)

    return SplitData(
        selection=selection, residency=residency, source=source,
        train=loader("train", train_needs) if "train" in splits else None,
        val=loader("val", eval_needs) if ("val" in splits and len(selection.val)) else None,
        test=loader("test", eval_needs),
        segments=segments,
    )
