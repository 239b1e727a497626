"""Where a run's arrays live, and the two sources a Loader reads its batches from.

A run's selection needs `nbytes` of arrays: the frames of the chosen segment slots (uint8) and per
sensor the GAF (float16) or the grid stream (float32, training.data.streams). `choose_residency` puts them

    device   on the accelerator; a batch is a gather there              (nbytes <= device budget)
    ram      in host RAM, pinned under CUDA; gathered, then copied      (nbytes <= RAM budget)
    stream   nowhere: persistent reader processes read each batch from the Zarr store, the
             loader pins it and copies it ahead of the step

`auto` takes the first that fits. The budget is --max-memory, else half of the free device memory
(device) and half of the available host RAM (ram); on a CPU run device and RAM are one memory,
named ram. Both sources answer the same `gather(plan)`: the frames (B, segments, H, W, 3) uint8
(B, clip views x segments in a multi-view evaluation) and each modality's input for the rows and
frame slots of one BatchPlan. All random draws live in the plan (made before any array is read),
so a batch does not depend on where its arrays live.
"""
from __future__ import annotations

import collections
import concurrent.futures
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import psutil
import torch
from torch import Tensor

from pipeline.store import Store, open_store
from pipeline.units import format_bytes
from training.data.streams import STREAM_CHANNELS, time_grid

IN_MEMORY = ("device", "ram")


@dataclass(frozen=True)
class StreamGrid:
    """The shared time grid raw-signal encoders read (training.data.streams.time_grid): span and points,
    and each modality's physical axis ranges (3, 2)."""

    seconds: float
    length: int
    axis_ranges: dict[str, np.ndarray]


@dataclass
class BatchPlan:
    """One batch's rows and random draws, made on the host before any array is read.

    clips are -1 and slots / boxes / flips None when the batch carries no video; slots (B, V * segments)
    index the loaded segment slots (Loader.frame_slots), boxes (C, B, 4) and flips (C, B) are the crops
    (Loader.crop_boxes): V clip views times C crop views of an evaluation (training.data.loaders.Views), one and
    one in training. `rng` is the batch's own stream, continued by the augmentation that runs on the
    gathered arrays. `labelled` False: the rows' labels are withheld (training.data.loaders.UNLABELLED).
    """

    takes: np.ndarray
    clips: np.ndarray
    rng: np.random.Generator
    slots: np.ndarray | None = None
    boxes: np.ndarray | None = None
    flips: np.ndarray | None = None
    labelled: bool = True


@dataclass
class RawBatch:
    """The arrays of one BatchPlan: frames uint8 (B, segments, H, W, 3) or None, sensor inputs by modality."""

    frames: Tensor | None = None
    sensors: dict[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Residency:
    """Where the arrays live, how many bytes the selection needs and why this placement."""

    where: str
    nbytes: int
    reason: str

    def describe(self) -> str:
        return f"arrays {format_bytes(self.nbytes)}, residency {self.where} ({self.reason})"


def selection_bytes(store: Store, clips: int, slots: int, takes: int, modalities: Sequence[str],
                    stream: StreamGrid | None) -> int:
    """Bytes of the arrays a selection loads: frames clips x slots x H x W x 3, sensors takes x input."""
    frames = clips * slots * int(np.prod(store.layout.frame_size or (0, 0))) * 3
    per_take = STREAM_CHANNELS * stream.length * 4 if stream else 3 * store.layout.gaf_size ** 2 * 2
    return frames + takes * len(modalities) * per_take


def memory_budgets(device: torch.device, max_memory: int | None) -> dict[str, int]:
    """Bytes the arrays may take in each in-memory place (module docstring)."""
    ram = max_memory if max_memory is not None else psutil.virtual_memory().available // 2
    budgets = {"ram": ram}
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budgets["device"] = max_memory if max_memory is not None else free // 2
    return budgets


def choose_residency(requested: str, nbytes: int, device: torch.device, max_memory: int | None) -> Residency:
    """The placement of `nbytes` of arrays: the one requested, or with "auto" the first that fits."""
    if requested == "stream":
        return Residency("stream", nbytes, "--residency stream")
    if requested != "auto":
        where = requested if device.type == "cuda" else "ram"
        return Residency(where, nbytes, f"--residency {requested}")
    budgets = memory_budgets(device, max_memory)
    source = "--max-memory" if max_memory is not None else "half of what is free"
    for where in ("device", "ram"):
        if where in budgets and nbytes <= budgets[where]:
            return Residency(where, nbytes, f"fits the {where} budget of {format_bytes(budgets[where])}, {source}")
    return Residency("stream", nbytes, f"above the budget of {format_bytes(budgets['ram'])}, {source}")


def sensor_input(store: Store, modality: str, takes: np.ndarray, stream: StreamGrid | None,
                 durations: np.ndarray | None = None) -> np.ndarray:
    """GAF (n, 3, G, G) float16 of these takes, or with a StreamGrid their streams (n, 4, T) float32."""
    if stream is None:
        return np.ascontiguousarray(store.gaf(modality, takes))
    if durations is None:
        durations = store.sensor_info(modality)["duration_s"]
    return time_grid(store.signal(modality, takes), durations[takes], stream.seconds, stream.length,
                     stream.axis_ranges[modality])


class Resident:
    """The arrays of one run, loaded once: frames (clips, slots, H, W, 3) uint8 and per modality the
    sensor input (sensor_input). `where` is "device" (gathers run there) or "ram" (host tensors,
    pinned under CUDA). Global store rows map to loaded rows through clip_slot / take_slot (-1: not
    loaded). `workers` > 0 gathers that many batches ahead in a thread.
    """

    def __init__(self, store: Store, clip_rows: np.ndarray, take_rows: np.ndarray, modalities: Sequence[str],
                 slots: np.ndarray | None, device: torch.device, where: str, stream: StreamGrid | None = None,
                 workers: int = 0, chunk: int = 64):
        self.device, self.where, self.workers = device, where, workers
        self.clip_rows = np.unique(np.asarray(clip_rows, dtype=np.int64))
        self.take_rows = np.unique(np.asarray(take_rows, dtype=np.int64))
        self.clip_slot = np.full(store.num_clips, -1, dtype=np.int64)
        self.clip_slot[self.clip_rows] = np.arange(len(self.clip_rows))
        self.take_slot = np.full(store.num_takes, -1, dtype=np.int64)
        self.take_slot[self.take_rows] = np.arange(len(self.take_rows))
        target = device if where == "device" else torch.device("cpu")
        pin = where == "ram" and device.type == "cuda"
        self.frames = None
        if slots is not None and len(self.clip_rows):
            frames = np.empty((len(self.clip_rows), len(slots), *store.layout.frame_size, 3), dtype=np.uint8)
            for start in range(0, len(self.clip_rows), chunk):
                frames[start:start + chunk] = store.frames(self.clip_rows[start:start + chunk], slots)
            self.frames = _tensor(frames, target, pin)
        self.sensors = {m: _tensor(sensor_input(store, m, self.take_rows, stream), target, pin)
                        for m in modalities} if len(self.take_rows) else {}

    def _to_device(self, tensor: Tensor) -> Tensor:
        return tensor.to(self.device, non_blocking=True) if tensor.device != self.device else tensor

    def frames_of(self, clips: np.ndarray, slots: np.ndarray) -> Tensor:
        """uint8 (B, len(slots[0]), H, W, 3) on the device: loaded frame slots[b] of clip row clips[b]."""
        rows = torch.as_tensor(self.clip_slot[clips], device=self.frames.device)
        picked = self.frames[rows[:, None], torch.as_tensor(slots, device=self.frames.device)]
        return self._to_device(picked)

    def sensor_of(self, modality: str, takes: np.ndarray) -> Tensor:
        """The modality's input on the device: GAF float16 (B, 3, G, G) or streams float32 (B, 4, T)."""
        rows = torch.as_tensor(self.take_slot[takes], device=self.sensors[modality].device)
        return self._to_device(self.sensors[modality][rows])

    def gather(self, plan: BatchPlan, modalities: Sequence[str]) -> RawBatch:
        frames = self.frames_of(plan.clips, plan.slots) if plan.slots is not None else None
        return RawBatch(frames, {m: self.sensor_of(m, plan.takes) for m in modalities})

    def close(self) -> None:
        """Nothing to release: the arrays go with the object (StoreReader's counterpart stops its readers)."""

    def batches(self, plans: Sequence[BatchPlan], modalities: Sequence[str]) -> Iterator[RawBatch]:
        """gather(plan) for each plan in order, `workers` ahead in a thread."""
        if not self.workers:
            yield from (self.gather(plan, modalities) for plan in plans)
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pending = [pool.submit(self.gather, plan, modalities) for plan in plans[:self.workers]]
            for i in range(len(plans)):
                raw = pending.pop(0).result()
                if i + self.workers < len(plans):
                    pending.append(pool.submit(self.gather, plans[i + self.workers], modalities))
                yield raw


def _tensor(array: np.ndarray, target: torch.device, pin: bool) -> Tensor:
    tensor = torch.from_numpy(array)
    if pin:
        return tensor.pin_memory()
    return tensor.to(target) if target.type != "cpu" else tensor


class StoreReader:
    """The streaming source: each batch read from the store by `workers` reader processes.

    A reader reads the frame chunks of the plan's slots (one frame each) and the take chunks that
    hold the batch's sensor rows, and returns host tensors (through shared memory); the loader pins
    them under CUDA and copies them to the device without blocking, `workers * prefetch` batches
    ahead. The processes start at the first batch and persist: every epoch and every loader of the
    stage (train, val, test share this source) reuse them until close() (or the source is dropped).
    Each is a fork of the trainer, about 250 MiB of PSS at the demo's sizes (docs/speed.md); workers
    0 reads inline, in the training process. The loader's chunk-aware order (training.data.sampler)
    keeps the take chunks a batch touches few.
    """

    def __init__(self, store: Store, slots: np.ndarray | None, device: torch.device,
                 stream: StreamGrid | None, workers: int, prefetch: int = 2):
        self.store, self.slots, self.device, self.stream = store, slots, device, stream
        self.workers, self.prefetch = workers, prefetch
        self.durations = {m: store.sensor_info(m)["duration_s"] for m in store.modalities} if stream else {}
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def read(self, plan: BatchPlan, modalities: Sequence[str]) -> dict:
        """Host tensors of one plan (runs in a reader process)."""
        out: dict = {"sensors": {}}
        if plan.slots is not None:
            out["frames"] = torch.from_numpy(self.store.frames(plan.clips, self.slots[plan.slots]))
        for m in modalities:
            out["sensors"][m] = torch.from_numpy(sensor_input(self.store, m, plan.takes, self.stream,
                                                              self.durations.get(m)))
        return out

    def readers(self) -> concurrent.futures.ProcessPoolExecutor:
        """The reader processes, started on first use and kept until close()."""
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=torch.multiprocessing.get_context(), initializer=_start_reader,
                initargs=(self.store.path, self.slots, self.stream))
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def close(self) -> None:
        """Stop the reader processes (a later batch starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def batches(self, plans: Sequence[BatchPlan], modalities: Sequence[str]) -> Iterator[RawBatch]:
        modalities = tuple(modalities)
        if not self.workers:
            yield from (self._on_device(self.read(plan, modalities)) for plan in plans)
            return
        pool, ahead = self.readers(), self.workers * self.prefetch
        pending = collections.deque(pool.submit(_read, plan, modalities) for plan in plans[:ahead])
        for i in range(len(plans)):
            host = pending.popleft().result()
            if i + ahead < len(plans):
                pending.append(pool.submit(_read, plans[i + ahead], modalities))
            yield self._on_device(host)

    def _on_device(self, host: dict) -> RawBatch:
        def move(tensor: Tensor) -> Tensor:
            if self.device.type == "cuda":
                return tensor.pin_memory().to(self.device, non_blocking=True)
            return tensor.to(self.device)

        frames = host.get("frames")
        return RawBatch(move(frames) if frames is not None else None,
                        {m: move(t) for m, t in host["sensors"].items()})


_READER: StoreReader | None = None  # a reader process's own source (opened by _start_reader)


def _start_reader(path, slots: np.ndarray | None, stream: StreamGrid | None) -> None:
    """Open the store once in a reader process."""
    global _READER
    torch.set_num_threads(1)
    _READER = StoreReader(open_store(path), slots, torch.device("cpu"), stream, workers=0)


def _read(plan: BatchPlan, modalities: tuple[str, ...]) -> dict:
    return _READER.read(plan, modalities)
