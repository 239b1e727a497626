"""The Zarr v3 store of one prepared dataset: the only module that knows its layout.

```
<dataset>.zarr/                 attrs: schema_version, dataset, layout, config, config_digest,
                                       records_digest, versions, scan_problems, complete
  takes/{key,label,subject,trial,scene,session,status,error}     (takes,)
  takes/warning                 (takes,) str   what was skipped to keep a take (bad CSV lines)
  clips/{take,camera,video,nframes,status,error}                 (clips,)
  video/frames                  (clips, segments*candidates, H, W, 3) uint8, one chunk per slot
  sensors/<modality>/signal     (takes, L, 3) float32   cleaned, resampled
  sensors/<modality>/gaf        (takes, 3, G, G) float16
  sensors/<modality>/{present,duration_s,nsamples}   (takes,) bool, float32, int32
  classes/names (C,) str, classes/embedding (C, D) float32   attrs: source, dim, tokens
```
Take arrays are chunked by `take_block` rows and clip columns by `clip_block` rows: one block
of prepare work writes whole chunks only, its status column last. Frames are chunked one stored
slot (one candidate frame of one segment) per chunk, so a batch decompresses exactly the frames it
samples: one candidate of each of its segments. (Schema 1 chunked a whole clip, 24 slots of
UTD-MHAD, to keep 4 or 8; whole-clip chunks compress real video about 20 % better, measured on an
MMAct clip: ratio 2.84 against 2.30.) Schema 2 also added takes/warning. A store of another schema
is refused in one line that names `prepare --force`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import zarr
from zarr.codecs import ZstdCodec

SCHEMA_VERSION = 2  # 2: frames chunked per slot, takes/warning (module docstring)
PENDING, OK, FAILED = "pending", "ok", "failed"
TAKE_INT_COLUMNS = ("label", "subject", "trial", "scene", "session")
CLIP_INT_COLUMNS = ("take", "camera", "nframes")


StoreLocation = str | Path  # a local path, or an fsspec URL kept as the string given
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(::[A-Za-z][A-Za-z0-9+.-]*)*://")
_LOCAL_PROTOCOLS = ("file", "local")


class StoreLocationError(ValueError):
    """A URL no filesystem answers (unknown protocol, its fsspec package not installed); one line."""


def is_url(location: StoreLocation) -> bool:
    """True for a string that starts `protocol://` (fsspec's form, chained ones included); a Path never
    is one, since Path has already folded the `//` of any URL it was built from."""
    return isinstance(location, str) and _URL.match(location) is not None


def store_location(location: StoreLocation) -> StoreLocation:
    """A URL as the string given, anything else as a Path: how every command reads --store and --cache.

    A store lives at a local path or at an fsspec URL (`memory://`, `file:///abs`, `s3://bucket/x.zarr` with
    the s3 extra). A path keeps Path semantics; a URL stays the string as written, because Path would fold
    its `//` into `/`."""
    return location if is_url(location) else Path(location)


def local_path(location: StoreLocation) -> Path | None:
    """The local folder a location names (a path, or a file:// URL's path); None for any other URL, whose
    bytes are not on this machine's disk (memory://, s3://, ...)."""
    if not is_url(location):
        return Path(location)
    if location.split("://", 1)[0] in _LOCAL_PROTOCOLS:
        return Path(fsspec.core.strip_protocol(location))
    return None


def zarr_target(location: StoreLocation) -> str:
    """What zarr opens for a location: a local one as its path (zarr's LocalStore creates the folders a write
    needs; its fsspec store over file:// does not), any other URL as written (zarr's FsspecStore)."""
    local = local_path(location)
    return str(local) if local is not None else location


def _filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """fsspec's filesystem and path of a URL, or a one-line StoreLocationError naming the URL."""
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as error:
        extra = " (pip install 'crossmodal-kd[s3]')" if url.startswith("s3://") else ""
        raise StoreLocationError(f"{url}: {error}{extra}") from None
    except ValueError as error:
        raise StoreLocationError(f"{url}: {error}") from None


def store_exists(location: StoreLocation) -> bool:
    """Whether anything is at the location (a folder, or for an object store any key under that prefix)."""
    local = local_path(location)
    if local is not None:
        return local.exists()
    fs, path = _filesystem(location)
    return fs.exists(path)


def holds_other_files(location: StoreLocation) -> bool:
    """True when the location holds something that is no Zarr group (no zarr.json at its top): prepare
    must not delete what it did not write."""
    local = local_path(location)
    if local is not None:
        return local.is_dir() and not (local / "zarr.json").exists() and any(local.iterdir())
    fs, path = _filesystem(location)
    return fs.exists(path) and not fs.exists(f"{path}/zarr.json") and bool(fs.ls(path))


def store_path(cache: StoreLocation, dataset: str) -> StoreLocation:
    """<cache>/<dataset>.zarr: where prepare writes a dataset and where every command looks for it.

    A URL cache gets the name appended to the string (`memory://` -> `memory://<dataset>.zarr`)."""
    if is_url(cache):
        return f"{cache}{'' if cache.endswith('/') else '/'}{dataset}.zarr"
    return Path(cache) / f"{dataset}.zarr"


def remove_store(location: StoreLocation) -> None:
    """Delete a store (a half-created one, or one rebuilt with --force)."""
    local = local_path(location)
    if local is not None:
        shutil.rmtree(local)
        return
    fs, path = _filesystem(location)
    fs.rm(path, recursive=True)


class StoreBusyError(RuntimeError):
    """Another live process holds the store's write lock; the message names it."""


class StoreLock:
    """An exclusive `fcntl.flock` on `<store>.lock`, which records the holder's pid and host.

    The kernel drops a flock when its holder exits, however it ends (even SIGKILL), so the lock
    of a dead writer is simply taken over; the file left behind is only a name. After locking,
    the open file must still be the one at the path: a holder unlinks it on release, and a
    process that had opened the old file meanwhile would otherwise lock a file nobody sees.
    """

    def __init__(self, store: Path):
        self.path = Path(f"{store}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 256).decode(errors="replace").split() or ["?", "?"]
                os.close(fd)
                raise StoreBusyError(
                    f"{self.path.with_suffix('')} is being written by pid {holder[0]} on {holder[-1]} "
                    f"(lock {self.path}); wait for it to finish") from None
            if os.path.exists(self.path) and os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the holder released and unlinked it between our open and our lock
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{socket.gethostname()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _compressor() -> ZstdCodec:
    return ZstdCodec(level=3)


def config_digest(config: Mapping) -> str:
    """sha256 of the canonical JSON of a settings dict (16 hex digits)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoreLayout:
    """Shapes and chunking of a store; frame_size None means no video arrays."""

    dataset: str
    modalities: tuple[str, ...]
    signal_length: int
    gaf_size: int
    segments: int
    candidates: int
    frame_size: tuple[int, int] | None
    take_block: int
    clip_block: int

    @property
    def frames_per_clip(self) -> int:
        return self.segments * self.candidates


def num_blocks(rows: int, block: int) -> int:
    return (rows + block - 1) // block


def _array(group: zarr.Group, name: str, data_or_shape, chunks, dtype, fill_value=None) -> zarr.Array:
    shape = data_or_shape.shape if isinstance(data_or_shape, np.ndarray) else tuple(data_or_shape)
    chunks = tuple(max(1, min(c, s)) if s else 1 for c, s in zip(chunks, shape))
    array = group.create_array(
        name, shape=shape, chunks=chunks, dtype=dtype, compressors=_compressor(), fill_value=fill_value
    )
    if isinstance(data_or_shape, np.ndarray) and data_or_shape.size:
        array[...] = data_or_shape
    return array


def create_store(
    path: Path,
    layout: StoreLayout,
    takes: Mapping[str, np.ndarray],
    clips: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    class_embedding: np.ndarray,
    embedding_attrs: Mapping,
    attrs: Mapping,
) -> None:
    """Write an empty store (every status pending); the group attrs go last and mark it valid.

    takes: key (str), label, subject, trial, scene, session; clips: take, camera, video (str).
    """
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    _create_take_columns(group.create_group("takes"), takes, layout.take_block)
    _create_clip_columns(group.create_group("clips"), clips, layout.clip_block)
    if layout.frame_size is not None:
        _create_frames(group.create_group("video"), layout, len(clips["take"]))
    sensors = group.create_group("sensors")
    for modality in layout.modalities:
        _create_sensor_arrays(sensors.create_group(modality), layout, len(takes["key"]))
    _create_classes(group.create_group("classes"), class_names, class_embedding, embedding_attrs)
    group.attrs.update({"layout": layout_to_dict(layout), **dict(attrs), "complete": False})


def _create_take_columns(take_group: zarr.Group, takes: Mapping[str, np.ndarray], block: int) -> None:
    """takes/{key, label, subject, trial, scene, session} from `takes`, status all pending, error and
    warning empty: (takes,) each, chunked by `block` rows (the take block)."""
    n_takes = len(takes["key"])
    _array(take_group, "key", np.asarray(takes["key"], dtype=str), (block,), str, "")
    for column in TAKE_INT_COLUMNS:
        _array(take_group, column, np.asarray(takes[column], dtype=np.int64), (block,), np.int64, 0)
    _array(take_group, "status", np.full(n_takes, PENDING, dtype=object).astype(str), (block,), str, "")
    _array(take_group, "error", (n_takes,), (block,), str, "")
    _array(take_group, "warning", (n_takes,), (block,), str, "")


def _create_clip_columns(clip_group: zarr.Group, clips: Mapping[str, np.ndarray], block: int) -> None:
    """clips/{take, camera, video} from `clips`, nframes 0, status all pending and error empty:
    (clips,) each, chunked by `block` rows (the clip block)."""
    n_clips = len(clips["take"])
    _array(clip_group, "take", np.asarray(clips["take"], dtype=np.int64), (block,), np.int64, 0)
    _array(clip_group, "camera", np.asarray(clips["camera"], dtype=np.int64), (block,), np.int64, 0)
    _array(clip_group, "video", np.asarray(clips["video"], dtype=str), (block,), str, "")
    _array(clip_group, "nframes", (n_clips,), (block,), np.int64, 0)
    _array(clip_group, "status", np.full(n_clips, PENDING, dtype=object).astype(str), (block,), str, "")
    _array(clip_group, "error", (n_clips,), (block,), str, "")


def _create_frames(video_group: zarr.Group, layout: StoreLayout, n_clips: int) -> None:
    """video/frames (clips, segments*candidates, H, W, 3) uint8, one slot (frame) per chunk."""
    height, width = layout.frame_size
    _array(video_group, "frames", (n_clips, layout.frames_per_clip, height, width, 3), (1, 1, height, width, 3),
           np.uint8, 0)


def _create_sensor_arrays(sensor: zarr.Group, layout: StoreLayout, n_takes: int) -> None:
    """One modality's signal (takes, L, 3) float32, gaf (takes, 3, G, G) float16 and present,
    duration_s, nsamples (takes,), all zero, chunked by the take block."""
    block, length, size = layout.take_block, layout.signal_length, layout.gaf_size
    _array(sensor, "signal", (n_takes, length, 3), (block, length, 3), np.float32, 0.0)
    _array(sensor, "gaf", (n_takes, 3, size, size), (block, 3, size, size), np.float16, 0.0)
    _array(sensor, "present", (n_takes,), (block,), bool, False)
    _array(sensor, "duration_s", (n_takes,), (block,), np.float32, 0.0)
    _array(sensor, "nsamples", (n_takes,), (block,), np.int32, 0)


def _create_classes(classes: zarr.Group, class_names: Sequence[str], class_embedding: np.ndarray,
                    embedding_attrs: Mapping) -> None:
    """classes/names (C,) str and classes/embedding (C, D) float32 with `embedding_attrs`, one chunk each."""
    _array(classes, "names", np.asarray(list(class_names), dtype=str), (len(class_names),), str, "")
    embedding = _array(classes, "embedding", np.asarray(class_embedding, dtype=np.float32),
                       class_embedding.shape, np.float32, 0.0)
    embedding.attrs.update(dict(embedding_attrs))


def layout_to_dict(layout: StoreLayout) -> dict:
    return {
        "dataset": layout.dataset,
        "modalities": list(layout.modalities),
        "signal_length": layout.signal_length,
        "gaf_size": layout.gaf_size,
        "segments": layout.segments,
        "candidates": layout.candidates,
        "frame_size": list(layout.frame_size) if layout.frame_size is not None else None,
        "take_block": layout.take_block,
        "clip_block": layout.clip_block,
    }


def layout_from_dict(d: Mapping) -> StoreLayout:
    return StoreLayout(
        dataset=d["dataset"], modalities=tuple(d["modalities"]), signal_length=d["signal_length"],
        gaf_size=d["gaf_size"], segments=d["segments"], candidates=d["candidates"],
        frame_size=tuple(d["frame_size"]) if d["frame_size"] is not None else None,
        take_block=d["take_block"], clip_block=d["clip_block"],
    )


def read_attrs(path: StoreLocation) -> dict | None:
    """The group attrs of a store, or None when there is no valid store (absent or half-created)."""
    try:
        attrs = dict(zarr.open_group(zarr_target(path), mode="r").attrs)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError, KeyError):
        return None
    return attrs if "config_digest" in attrs else None


def mark_complete(path: Path) -> None:
    zarr.open_group(str(path), mode="r+").attrs["complete"] = True


@dataclass
class TakeBlock:
    """Results of one take block, rows [start, start + n) of every take array."""

    start: int
    status: np.ndarray  # (n,) str
    error: np.ndarray  # (n,) str: why a take failed
    warning: np.ndarray  # (n,) str: what was skipped to keep a take ("" for none)
    sensors: dict[str, dict[str, np.ndarray]]  # modality -> signal, gaf, present, duration_s, nsamples


@dataclass
class ClipBlock:
    """Results of one clip block, rows [start, start + n) of every clip array."""

    start: int
    status: np.ndarray  # (n,) str
    error: np.ndarray  # (n,) str
    nframes: np.ndarray  # (n,) int64
    frames: np.ndarray | None  # (n, segments*candidates, H, W, 3) uint8


def write_take_block(path: Path, block: TakeBlock) -> None:
    """Write a finished take block: sensor arrays first, the status column last."""
    group = zarr.open_group(str(path), mode="r+")
    rows = slice(block.start, block.start + len(block.status))
    for modality, arrays in block.sensors.items():
        for name, values in arrays.items():
            group[f"sensors/{modality}/{name}"][rows] = values
    group["takes/error"][rows] = block.error
    group["takes/warning"][rows] = block.warning
    group["takes/status"][rows] = block.status


def write_clip_block(path: Path, block: ClipBlock) -> None:
    """Write a finished clip block: frames first, the status column last."""
    group = zarr.open_group(str(path), mode="r+")
    rows = slice(block.start, block.start + len(block.status))
    if block.frames is not None:
        group["video/frames"][rows] = block.frames
    group["clips/nframes"][rows] = block.nframes
    group["clips/error"][rows] = block.error
    group["clips/status"][rows] = block.status


def finished_blocks(path: Path, table: str, block: int) -> np.ndarray:
    """(blocks,) bool: blocks of `table` (takes | clips) whose status column is written."""
    status = _strings(zarr.open_group(str(path), mode="r")[f"{table}/status"])
    done = status != PENDING
    return np.array([done[i:i + block].all() for i in range(0, len(done), block)], dtype=bool)


def _strings(array: zarr.Array) -> np.ndarray:
    """A string array as fixed-width numpy str (zarr returns numpy's variable-width StringDType)."""
    values = array[:].tolist()
    return np.array(values, dtype=str) if values else np.zeros(0, dtype=str)


def _runs(sorted_rows: np.ndarray, longest: int = 64) -> list[tuple[int, int]]:
    """[lo, hi) index ranges of `sorted_rows` (ascending, distinct) whose values are consecutive, at most
    `longest` each: the reads of one slice each."""
    breaks = np.flatnonzero(np.diff(sorted_rows) != 1) + 1
    runs = []
    for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), len(sorted_rows)]):
        runs += [(start, min(start + longest, hi)) for start in range(lo, hi, longest)]
    return runs


class Store:
    """Read-only view of a prepared store; every reader takes many rows per request.

    Row selections are int index arrays (None = all rows), returned in the order given.
    """

    def __init__(self, path: StoreLocation):
        self.path = store_location(path)
        self._group = zarr.open_group(zarr_target(self.path), mode="r")
        self.attrs: dict = dict(self._group.attrs)
        if "config_digest" not in self.attrs:
            raise ValueError(f"{self.path}: not a prepared store (no config digest; prepare did not finish creating it)")
        if self.attrs.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{self.path}: store schema {self.attrs.get('schema_version')}, this version reads schema "
                             f"{SCHEMA_VERSION} (frames chunked per slot); rebuild it with `python cli.py prepare "
                             f"--dataset {self.attrs.get('dataset')} --force`")
        layout = layout_from_dict(self.attrs["layout"])
        self.layout = layout
        self.dataset: str = self.attrs["dataset"]
        self.modalities: list[str] = list(layout.modalities)
        self.segments: int = layout.segments
        self.candidates: int = layout.candidates
        self.has_video: bool = layout.frame_size is not None and "video" in self._group
        self.class_names: list[str] = _strings(self._group["classes/names"]).tolist()
        embedding = self._group["classes/embedding"]
        self.class_embedding: np.ndarray = np.asarray(embedding[:], dtype=np.float32)
        self.embedding_attrs: dict = dict(embedding.attrs)
        self.takes: dict[str, np.ndarray] = {"key": _strings(self._group["takes/key"])}
        for column in TAKE_INT_COLUMNS:
            self.takes[column] = np.asarray(self._group[f"takes/{column}"][:], dtype=np.int64)
        self.takes["status"] = _strings(self._group["takes/status"])
        self.takes["error"] = _strings(self._group["takes/error"])
        self.takes["warning"] = _strings(self._group["takes/warning"])
        self.clips: dict[str, np.ndarray] = {}
        for column in CLIP_INT_COLUMNS:
            self.clips[column] = np.asarray(self._group[f"clips/{column}"][:], dtype=np.int64)
        for column in ("video", "status", "error"):
            self.clips[column] = _strings(self._group[f"clips/{column}"])

    @property
    def num_takes(self) -> int:
        return len(self.takes["key"])

    @property
    def num_clips(self) -> int:
        return len(self.clips["take"])

    def _read_rows(self, array: zarr.Array, rows: np.ndarray | Sequence[int] | None) -> np.ndarray:
        """Rows in the order asked; each chunk touched is read once, as a plain slice.

        (zarr's orthogonal selection is several times slower than slices for whole-row reads.)
        """
        if rows is None:
            return array[...]
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), *array.shape[1:]), dtype=array.dtype)
        if rows.size == 0:
            return out
        if rows.min() < 0 or rows.max() >= array.shape[0]:
            raise IndexError(f"{self.path}: row index out of range 0..{array.shape[0] - 1}")
        chunk = array.chunks[0]
        for chunk_id in np.unique(rows // chunk):
            lo = int(chunk_id) * chunk
            block = array[lo:min(lo + chunk, array.shape[0])]
            wanted = np.flatnonzero(rows // chunk == chunk_id)
            out[wanted] = block[rows[wanted] - lo]
        return out

    def frames(self, clip_indices=None, slots=None) -> np.ndarray:
        """(n, k, H, W, 3) uint8 frames of these clips (None: all): every stored slot (slots None; slot
        s*candidates + k is candidate k of segment s), the same k slots of each clip (slots (k,)), or
        each clip its own (slots (n, k)). Only the chunks of the slots asked for are read, one frame each."""
        if not self.has_video:
            raise ValueError(f"{self.path}: this store holds no video")
        array = self._group["video/frames"]
        clips = np.arange(self.num_clips) if clip_indices is None else np.asarray(clip_indices, np.int64).reshape(-1)
        if clips.size and (clips.min() < 0 or clips.max() >= self.num_clips):
            raise IndexError(f"{self.path}: clip index out of range 0..{self.num_clips - 1}")
        slots = np.arange(array.shape[1]) if slots is None else np.asarray(slots, dtype=np.int64)
        out = np.empty((len(clips), slots.shape[-1], *array.shape[2:]), dtype=array.dtype)
        if slots.ndim == 2:  # each clip its own slots: one chunk per frame
            for i, (clip, own) in enumerate(zip(clips.tolist(), slots.tolist())):
                for j, slot in enumerate(own):
                    out[i, j] = array[clip, slot]
            return out
        unique, inverse = np.unique(clips, return_inverse=True)
        every = np.array_equal(slots, np.arange(array.shape[1]))
        read = np.empty((len(unique), *out.shape[1:]), dtype=array.dtype)
        for lo, hi in _runs(unique):  # consecutive clips in one read per slot (all slots: one read)
            rows = slice(int(unique[lo]), int(unique[hi - 1]) + 1)
            read[lo:hi] = array[rows] if every else np.stack([array[rows, int(s)] for s in slots], axis=1)
        out[:] = read[inverse.reshape(-1)]
        return out

    def _sensor(self, modality: str, name: str) -> zarr.Array:
        if modality not in self.modalities:
            raise KeyError(f"{self.path}: no sensor modality {modality!r} (stored: {', '.join(self.modalities)})")
        return self._group[f"sensors/{modality}/{name}"]

    def gaf(self, modality: str, take_indices=None) -> np.ndarray:
        """(n, 3, G, G) float16 GAF images, one channel per sensor axis."""
        return self._read_rows(self._sensor(modality, "gaf"), take_indices)

    def signal(self, modality: str, take_indices=None) -> np.ndarray:
        """(n, L, 3) float32 cleaned and resampled stream."""
        return self._read_rows(self._sensor(modality, "signal"), take_indices)

    def sensor_info(self, modality: str) -> dict[str, np.ndarray]:
        """present (n,) bool, duration_s (n,) float32, nsamples (n,) int32 over all takes."""
        return {
            "present": np.asarray(self._sensor(modality, "present")[:], dtype=bool),
            "duration_s": np.asarray(self._sensor(modality, "duration_s")[:], dtype=np.float32),
            "nsamples": np.asarray(self._sensor(modality, "nsamples")[:], dtype=np.int32),
        }

    def clip_columns(self) -> dict[str, np.ndarray]:
        """Clip columns joined with their take's columns (label, subject, ...): one row per clip."""
        columns = {name: values[self.clips["take"]] for name, values in self.takes.items()
                   if name not in ("status", "error", "warning")}
        columns.update(self.clips)
        return columns

    def array_names(self) -> list[str]:
        """Paths of every array in the store, e.g. 'sensors/acc/gaf', sorted."""
        return sorted(name for name, member in self._group.members(max_depth=None) if isinstance(member, zarr.Array))

    def array(self, name: str) -> zarr.Array:
        return self._group[name]

    def stored_bytes(self) -> int:
        """Bytes the whole store takes on disk or in its bucket (every chunk and metadata file): a local
        store's files summed, any other's as fsspec's du reports them (one listing, no chunk read)."""
        local = local_path(self.path)
        if local is not None:
            return sum(f.stat().st_size for f in local.rglob("*") if f.is_file())
        fs, path = _filesystem(self.path)
        return int(fs.du(path, total=True))


def open_store(path: StoreLocation) -> Store:
    """Open a prepared store read-only, at a local path or an fsspec URL (see store_location)."""
    path = store_location(path)
    if not store_exists(path):
        raise FileNotFoundError(f"{path}: no store here (run `python cli.py prepare` first)")
    return Store(path)
