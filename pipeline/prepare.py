"""Prepare one dataset: raw tree -> <cache>/<dataset>.zarr, as a Dask graph over blocks of records.

One task per block (`take_block` takes or `clip_block` clips) reads its recordings, computes
signals + GAF images or candidate frames, and writes whole chunks of the store, its status column
last. A re-run skips blocks whose status is written, so a killed run resumes and ends with the
same store as an uninterrupted one. A recording that cannot be read is marked failed with its
one-line reason; the others are unaffected. Tasks receive paths and settings only (picklable), so
the same graph runs on the local schedulers and on a dask.distributed cluster.

The cache may be an fsspec URL (pipeline.store.store_location): the store is written at
<URL>/<dataset>.zarr. A memory:// store lives in this process only, so it takes the synchronous or
threads scheduler; a store off the local disk gets no write lock (see _write_lock).
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline import store as zstore
from pipeline.config import CACHE_DIR, DatasetsError, DatasetSpec, load_dataset
from pipeline.embeddings import COMBINES
from pipeline.gaf import METHODS as GAF_METHODS, RANGED_SCALINGS, SCALINGS
from pipeline.records import Clip, SourceError, Take

SCHEDULERS = ("synchronous", "threads", "processes")
VIDEO = "video"


class PrepareError(Exception):
    """A prepare request that cannot run (bad option, settings mismatch, store in use); one line."""


@dataclass(frozen=True)
class PrepareOptions:
    """Everything `python cli.py prepare` can set; None means the datasets.yaml default."""

    dataset: str
    root: Path | None = None
    cache: zstore.StoreLocation = CACHE_DIR  # a folder, or an fsspec URL (memory://..., s3://...)
    modalities: tuple[str, ...] | None = None  # sensor modalities and/or "video"
    scheduler: str = "threads"  # synchronous | threads | processes | tcp://host:port
    workers: int | None = None
    force: bool = False
    limit: int | None = None
    strict: bool = False
    gaf_size: int = 64
    gaf_method: str = "summation"
    scaling: str = "minmax"
    glove: Path | None = None
    combine: str = "sum"
    class_embedding: Path | None = None  # a (C, D) .npy table of class vectors instead of GloVe words
    frame_size: tuple[int, int] | None = None
    take_block: int = 32
    clip_block: int = 16
    progress: bool = True


@dataclass(frozen=True)
class BlockSettings:
    """What a block task needs besides its records: plain values, picklable."""

    store_path: str  # what zarr opens (pipeline.store.zarr_target): a local path or a URL
    layout_name: str
    modalities: tuple[str, ...]
    sensor_ranges: dict[str, tuple[tuple[float, float], ...]]
    signal_length: int
    gaf_size: int
    gaf_method: str
    scaling: str
    segments: int
    candidates: int
    frame_size: tuple[int, int] | None
    decode_threads: int


@dataclass
class PrepareReport:
    """Outcome of one prepare call; `failed` lists (kind, key, reason) of every failed recording."""

    store_path: zstore.StoreLocation
    takes: int
    clips: int
    modalities: list[str]
    has_video: bool
    missing_modalities: list[str]
    problems: list[str]
    blocks_run: int
    blocks_skipped: int
    seconds: float
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def all_failed(self) -> bool:
        return len(self.failed) > 0 and len(self.failed) == self.takes + self.clips


# ----------------------------------------------------------------------------- block tasks


def _reason(path: Path, error: BaseException) -> str:
    """One-line failure reason that names the file."""
    text = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, SourceError):
        text = f"{type(error).__name__}: {text}"
    return text if str(path) in text else f"{path}: {text}"


def _add_line(notes: np.ndarray, row: int, text: str) -> None:
    """Append `text` to notes[row] ("; "-separated), once: UTD reads acc and gyro from one file."""
    if text not in notes[row]:
        notes[row] = "; ".join(filter(None, [notes[row], text]))


def prepare_take_block(settings: BlockSettings, start: int, takes: Sequence[Take]) -> dict:
    """Read, clean, resample and GAF the sensor streams of takes [start, start+n); write the block.

    A take's `error` says why a stream failed it; its `warning` what a reader skipped to keep a
    stream (MMAct's malformed CSV lines), prefixed by the modality.
    """
    from pipeline.gaf import gaf_images
    from pipeline.signals import clean_stream, resample_stream
    from pipeline.sources import get_source

    source = get_source(settings.layout_name)
    n, length = len(takes), settings.signal_length
    status = np.full(n, zstore.OK, dtype=object)
    errors = np.full(n, "", dtype=object)
    warnings = np.full(n, "", dtype=object)
    sensors: dict[str, dict[str, np.ndarray]] = {}
    for modality in settings.modalities:
        ranges = settings.sensor_ranges[modality]
        signal = np.zeros((n, length, 3), dtype=np.float32)
        present = np.zeros(n, dtype=bool)
        duration = np.zeros(n, dtype=np.float32)
        nsamples = np.zeros(n, dtype=np.int32)
        for row, take in enumerate(takes):
            path = take.sensor_files.get(modality)
            if path is None:
                continue
            try:
                raw = source.read_stream(Path(path), modality)
                stream = clean_stream(raw, ranges)
                signal[row] = resample_stream(stream, length)
            except Exception as error:  # every unreadable recording is recorded, none stops the block
                status[row] = zstore.FAILED
                _add_line(errors, row, _reason(Path(path), error))
                continue
            if raw.warning:
                _add_line(warnings, row, f"{modality}: {raw.warning}")
            present[row] = True
            duration[row] = stream.times[-1] - stream.times[0]
            nsamples[row] = len(stream.times)
        gaf = np.zeros((n, 3, settings.gaf_size, settings.gaf_size), dtype=np.float16)
        if present.any():
            images = gaf_images(
                signal[present], size=settings.gaf_size, method=settings.gaf_method,
                scaling=settings.scaling, axis_ranges=ranges if settings.scaling in RANGED_SCALINGS else None,
                threads=1,  # the graph already runs one block per core
            )
            gaf[present] = images.astype(np.float16)
        sensors[modality] = {
            "signal": signal, "gaf": gaf, "present": present, "duration_s": duration, "nsamples": nsamples,
        }
    block = zstore.TakeBlock(start=start, status=status.astype(str), error=errors.astype(str),
                             warning=warnings.astype(str), sensors=sensors)
    zstore.write_take_block(settings.store_path, block)
    failed = [("take", t.key, str(e)) for t, s, e in zip(takes, block.status, block.error) if s == zstore.FAILED]
    return {"kind": "takes", "count": n, "failed": failed}


def prepare_clip_block(settings: BlockSettings, start: int, clips: Sequence[Clip]) -> dict:
    """Decode the candidate frames of clips [start, start+n); write the block."""
    from pipeline.sources import get_source
    from pipeline.video import decode_video_frames, read_folder_frames

    n = len(clips)
    status = np.full(n, zstore.OK, dtype=object)
    errors = np.full(n, "", dtype=object)
    nframes = np.zeros(n, dtype=np.int64)
    frames = None
    if settings.frame_size is not None:
        height, width = settings.frame_size
        frames = np.zeros((n, settings.segments * settings.candidates, height, width, 3), dtype=np.uint8)
    source = get_source(settings.layout_name)
    for row, clip in enumerate(clips):
        video = Path(clip.video)
        try:
            if video.is_dir():
                clip_frames, count = read_folder_frames(
                    source.frame_files(video), source.read_bayer_frame,
                    settings.segments, settings.candidates, settings.frame_size,
                )
            else:
                clip_frames, count = decode_video_frames(
                    video, settings.segments, settings.candidates, settings.frame_size,
                    num_threads=settings.decode_threads,
                )
        except Exception as error:  # every unreadable recording is recorded, none stops the block
            status[row], errors[row] = zstore.FAILED, _reason(video, error)
            continue
        nframes[row] = count
        if frames is not None:
            frames[row] = clip_frames
    block = zstore.ClipBlock(start=start, status=status.astype(str), error=errors.astype(str),
                             nframes=nframes, frames=frames)
    zstore.write_clip_block(settings.store_path, block)
    failed = [("clip", f"{c.take_key} cam{c.camera}", str(e)) for c, s, e in zip(clips, block.status, block.error)
              if s == zstore.FAILED]
    return {"kind": "clips", "count": n, "failed": failed}


# ----------------------------------------------------------------------------- planning


def _check_options(options: PrepareOptions, spec: DatasetSpec) -> None:
    if options.gaf_method not in GAF_METHODS:
        raise PrepareError(f"--gaf-method must be one of {', '.join(GAF_METHODS)}, got {options.gaf_method!r}")
    if options.scaling not in SCALINGS:
        raise PrepareError(f"--scaling must be one of {', '.join(SCALINGS)}, got {options.scaling!r}")
    if options.combine not in COMBINES:
        raise PrepareError(f"--combine must be one of {', '.join(COMBINES)}, got {options.combine!r}")
    if options.class_embedding is not None and options.glove is not None:
        raise PrepareError("--class-embedding and --glove both give the class embedding; pass one of them")
    if options.gaf_size < 2:
        raise PrepareError(f"--gaf-size must be >= 2, got {options.gaf_size}")
    if options.limit is not None and options.limit < 1:
        raise PrepareError(f"--limit must be >= 1, got {options.limit}")
    if options.workers is not None and options.workers < 1:
        raise PrepareError(f"--workers must be >= 1, got {options.workers}")
    if options.frame_size is not None and min(options.frame_size) < 1:
        raise PrepareError(f"--frame-size must be positive, got {options.frame_size}")
    if options.scheduler not in SCHEDULERS and not options.scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise PrepareError(
            f"--scheduler must be one of {', '.join(SCHEDULERS)} or a dask.distributed address "
            f"(tcp://host:port), got {options.scheduler!r}"
        )
    if options.modalities is not None:
        known = set(spec.modalities) | {VIDEO}
        unknown = [m for m in options.modalities if m not in known]
        if unknown:
            raise PrepareError(
                f"{spec.name}: unknown modalities {', '.join(unknown)}; choose from {', '.join(spec.modalities)}, {VIDEO}"
            )


def _versions() -> dict[str, str]:
    import dask
    import decord
    import zarr

    return {"numpy": np.__version__, "zarr": zarr.__version__, "dask": dask.__version__,
            "decord": decord.__version__, "python": sys.version.split()[0]}


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _config(options: PrepareOptions, spec: DatasetSpec, modalities: tuple[str, ...],
            frame_size: tuple[int, int] | None, embedding_source: str) -> dict:
    """The settings that shape the store's content; their digest guards against mixing."""
    return {
        "schema_version": zstore.SCHEMA_VERSION,
        "dataset": spec.name,
        "layout": spec.layout,
        "classes": list(spec.classes),
        "aliases": {k: list(v) for k, v in sorted(spec.aliases.items())},
        "modalities": list(modalities),
        "sensor_ranges": {m: [list(r) for r in spec.sensors[m].range] for m in modalities},
        "signal_length": spec.signal_length,
        "gaf_size": options.gaf_size,
        "gaf_method": options.gaf_method,
        "scaling": options.scaling,
        "segments": spec.video.segments,
        "candidates": spec.video.candidates,
        "frame_size": list(frame_size) if frame_size is not None else None,
        "embedding_source": embedding_source,
        "combine": options.combine,
        "limit": options.limit,
        "take_block": options.take_block,
        "clip_block": options.clip_block,
    }


def _settings_difference(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k))


def _collect_failures(path: zstore.StoreLocation) -> list[tuple[str, str, str]]:
    store = zstore.open_store(path)
    failed = [("take", str(k), str(e)) for k, s, e in zip(store.takes["key"], store.takes["status"],
                                                          store.takes["error"]) if s == zstore.FAILED]
    keys = store.takes["key"]
    failed += [("clip", f"{keys[t]} cam{c}", str(e))
               for t, c, s, e in zip(store.clips["take"], store.clips["camera"], store.clips["status"],
                                     store.clips["error"]) if s == zstore.FAILED]
    return failed


# ----------------------------------------------------------------------------- graph


def _run_graph(tasks: list, totals: dict[str, int], scheduler: str, workers: int | None,
               progress: bool) -> list[dict]:
    """Compute the block tasks; one tqdm bar per record kind (takes/s, clips/s)."""
    from tqdm import tqdm

    bars = {kind: tqdm(total=total, unit=kind[:-1], desc=f"{kind:<5}", disable=not progress or total == 0,
                       file=sys.stderr, dynamic_ncols=True)
            for kind, total in totals.items()}

    def advance(result) -> None:
        if isinstance(result, dict) and result.get("kind") in bars:
            bars[result["kind"]].update(result["count"])

    try:
        if scheduler in SCHEDULERS:
            import dask
            from dask.callbacks import Callback

            class Progress(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    advance(result)

            kwargs = {"scheduler": scheduler}
            if workers is not None and scheduler != "synchronous":
                kwargs["num_workers"] = workers
            with Progress():
                return list(dask.compute(*tasks, **kwargs))
        try:
            from distributed import Client, as_completed
        except ModuleNotFoundError:
            raise PrepareError(f"--scheduler {scheduler} needs dask.distributed: "
                               "pip install 'crossmodal-kd[distributed]'") from None
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as error:
            raise PrepareError(f"cannot reach the dask scheduler at {scheduler} ({error})") from None
        with client:
            futures = client.compute(tasks)
            results = []
            for future in as_completed(futures):
                result = future.result()
                advance(result)
                results.append(result)
            return results
    finally:
        for bar in bars.values():
            bar.close()


@dataclass
class Selection:
    """The records and modalities one prepare call works on."""

    takes: list[Take]
    clips: list[Clip]
    modalities: tuple[str, ...]  # sensor modalities stored
    missing: list[str]  # requested modalities (or "video") with no file in the tree
    problems: list[str]  # files the scan skipped
    frame_size: tuple[int, int] | None  # None: no video stored


def select_records(options: PrepareOptions, spec: DatasetSpec, root: Path) -> Selection:
    """Scan the raw tree and keep the requested modalities and the first --limit takes."""
    from pipeline.sources import get_source

    wanted = options.modalities
    sensor_wanted = [m for m in spec.modalities if wanted is None or m in wanted]
    want_video = wanted is None or VIDEO in wanted
    try:
        scan = get_source(spec.layout).scan(root, spec, sensor_wanted)
    except SourceError as error:
        raise PrepareError(str(error)) from None
    takes = scan.takes[: options.limit] if options.limit is not None else scan.takes
    if not takes:
        raise PrepareError(f"{root}: no takes of {spec.name} found ({len(scan.problems)} files skipped)")
    keys = {take.key for take in takes}
    clips = [c for c in scan.clips if c.take_key in keys] if want_video else []
    missing = [m for m in sensor_wanted if m in scan.missing_modalities]
    if want_video and not scan.clips:
        missing.append(VIDEO)
    return Selection(
        takes=takes, clips=clips, modalities=tuple(m for m in sensor_wanted if m not in missing), missing=missing,
        problems=list(scan.problems),
        frame_size=tuple(options.frame_size or spec.video.frame_size) if clips else None,
    )


def _pending_tasks(settings: BlockSettings, selection: Selection, options: PrepareOptions) -> tuple[list, dict, int]:
    """Delayed tasks of the blocks whose status is not written yet, records per kind, blocks skipped."""
    import dask

    path = settings.store_path
    kinds = (("clips", prepare_clip_block, selection.clips, options.clip_block),
             ("takes", prepare_take_block, selection.takes, options.take_block))
    per_kind, totals, skipped = [], {}, 0
    for kind, function, records, block in kinds:
        done = zstore.finished_blocks(path, kind, block)
        pending = np.flatnonzero(~done)
        skipped += int(done.sum())
        per_kind.append([
            dask.delayed(function, pure=False)(settings, int(b) * block, records[b * block:(b + 1) * block],
                                               dask_key_name=f"{kind}-{b}")
            for b in pending
        ])
        totals[kind] = sum(len(records[b * block:(b + 1) * block]) for b in pending)
    # Interleave the slow video blocks with the sensor blocks so both bars move from the start.
    clips, takes = per_kind
    tasks = [t for i in range(max(len(clips), len(takes))) for t in (clips[i:i + 1] + takes[i:i + 1])]
    return tasks, totals, skipped


def _check_existing(store_path: zstore.StoreLocation, options: PrepareOptions, config: dict, digest: str,
                    records_digest: str, root: Path) -> bool:
    """True when a store to resume is there; clears a half-created or --force'd one; refuses a mismatch."""
    if not zstore.store_exists(store_path):
        return False
    attrs = zstore.read_attrs(store_path)
    if options.force or attrs is None:
        if attrs is None and zstore.holds_other_files(store_path):
            raise PrepareError(f"{store_path}: exists and is not a Zarr store; move it away first")
        zstore.remove_store(store_path)
        return False
    if attrs["config_digest"] != digest:
        raise PrepareError(
            f"{store_path} was prepared with other settings ({_settings_difference(attrs['config'], config)}); "
            "use --force to rebuild it, or another --cache"
        )
    if attrs.get("records_digest") != records_digest:
        raise PrepareError(
            f"{store_path}: the raw tree {root} no longer holds the recordings this store was started with; "
            "use --force to rebuild it"
        )
    return True


@contextmanager
def _write_lock(store_path: zstore.StoreLocation) -> Iterator[None]:
    """The store's StoreLock for the whole prepare; a store busy with another writer is a PrepareError.

    Only a store on the local disk (a path or a file:// URL) is locked: the lock is an fcntl.flock on a
    file beside it, which nothing off this machine sees. A memory:// store lives in this process, and an
    object store offers no lock every writer honours, so two prepares of one s3:// store at a time are
    for the user to avoid.
    """
    local = zstore.local_path(store_path)
    if local is None:
        yield
        return
    lock = zstore.StoreLock(local)
    try:
        lock.acquire()
    except zstore.StoreBusyError as error:
        raise PrepareError(str(error)) from None
    try:
        yield
    finally:
        lock.release()


def prepare(options: PrepareOptions) -> PrepareReport:
    """Build (or resume) <cache>/<dataset>.zarr; raises PrepareError for requests that cannot run."""
    from pipeline.embeddings import class_table_source_id, embedding_source_id

    started = time.perf_counter()
    spec, root = _checked_request(options)
    selection = select_records(options, spec, root)
    if options.class_embedding is not None and not Path(options.class_embedding).is_file():
        raise PrepareError(f"{options.class_embedding}: class embedding file not found")
    source = (class_table_source_id(options.class_embedding) if options.class_embedding is not None
              else embedding_source_id(options.glove))
    config = _config(options, spec, selection.modalities, selection.frame_size, source)
    digest = zstore.config_digest(config)
    records_digest = zstore.config_digest({
        "takes": [t.key for t in selection.takes],
        "clips": [[c.take_key, c.camera, _relative(c.video, root)] for c in selection.clips],
    })
    store_path = zstore.store_path(options.cache, spec.name)
    target = zstore.zarr_target(store_path)
    settings = BlockSettings(
        store_path=target, layout_name=spec.layout, modalities=selection.modalities,
        sensor_ranges={m: spec.sensors[m].range for m in selection.modalities}, signal_length=spec.signal_length,
        gaf_size=options.gaf_size, gaf_method=options.gaf_method, scaling=options.scaling,
        segments=spec.video.segments, candidates=spec.video.candidates, frame_size=selection.frame_size,
        decode_threads=1 if (options.workers or os.cpu_count() or 1) > 1 else 0,
    )

    with _write_lock(store_path):
        if not _check_existing(store_path, options, config, digest, records_digest, root):
            _create(target, spec, options, selection, root, config, digest, records_digest)
        tasks, totals, skipped = _pending_tasks(settings, selection, options)
        if tasks:
            _run_resumable(tasks, totals, options)
        zstore.mark_complete(target)
        failed = _collect_failures(store_path)

    return PrepareReport(
        store_path=store_path, takes=len(selection.takes), clips=len(selection.clips),
        modalities=list(selection.modalities), has_video=selection.frame_size is not None,
        missing_modalities=selection.missing, problems=selection.problems, blocks_run=len(tasks),
        blocks_skipped=skipped, seconds=time.perf_counter() - started, failed=failed,
    )


def _checked_request(options: PrepareOptions) -> tuple[DatasetSpec, Path]:
    """The dataset's spec and the raw root to read, or a one-line PrepareError for a request that cannot run."""
    try:
        spec = load_dataset(options.dataset)
    except KeyError as error:
        raise PrepareError(str(error.args[0])) from None
    except DatasetsError as error:
        raise PrepareError(str(error)) from None
    _check_options(options, spec)
    root = Path(options.root) if options.root is not None else spec.root
    if root.exists() and not root.is_dir():
        raise PrepareError(f"{root}: --root must be the raw dataset folder of {spec.name}, and this is a file")
    if not root.is_dir():
        raise PrepareError(f"{root}: raw dataset folder of {spec.name} not found "
                           f"(pass --root or set {spec.raw.get('root_env', 'the root_env variable')})")
    _check_cache(options)
    return spec, root


def _check_cache(options: PrepareOptions) -> None:
    """A one-line PrepareError for a cache prepare cannot write to: a local file, a URL no installed
    filesystem answers, or memory:// with a scheduler whose workers live in other processes (each would
    write into its own memory, which this process never sees)."""
    local = zstore.local_path(options.cache)
    if local is not None:
        if local.exists() and not local.is_dir():
            raise PrepareError(f"{options.cache}: --cache must be a folder, and this is a file")
        return
    try:
        zstore.store_exists(options.cache)  # an unknown protocol or a missing package fails here, not mid-run
    except zstore.StoreLocationError as error:
        raise PrepareError(str(error)) from None
    if options.cache.startswith("memory://") and options.scheduler not in ("synchronous", "threads"):
        raise PrepareError(f"{options.cache}: a memory:// store lives in one process; prepare it with "
                           f"--scheduler threads or synchronous, not {options.scheduler}")


def _run_resumable(tasks: list, totals: dict, options: PrepareOptions) -> None:
    """The Dask graph of the pending blocks; a crash outside a recording (disk full, lost worker, ...) is one
    PrepareError line, the finished blocks kept for the next run."""
    try:
        _run_graph(tasks, totals, options.scheduler, options.workers, options.progress)
    except PrepareError:
        raise
    except Exception as error:
        raise PrepareError(
            f"a prepare task failed ({type(error).__name__}: {' '.join(str(error).split())[:300]}); "
            "finished blocks are kept: run prepare again to resume"
        ) from error


def _class_embedding(spec: DatasetSpec, options: PrepareOptions, source: str) -> tuple[np.ndarray, dict]:
    """The (C, D) class embedding and its attrs: a --class-embedding table, else GloVe words of the class names."""
    from pipeline.embeddings import EmbeddingError, EmbeddingFileError, class_embeddings, load_class_table, load_glove

    try:
        if options.class_embedding is not None:
            table = load_class_table(options.class_embedding, spec.classes)
            return table, {"source": source, "dim": int(table.shape[1]), "combine": None, "tokens": []}
        # the packaged default is converted once per checkout (cache/glove); a user's GloVe file
        # is converted beside the stores it serves
        vectors = load_glove() if options.glove is None else load_glove(options.glove, _glove_folder(options.cache))
        table, tokens = class_embeddings(spec.classes, vectors, spec.aliases, combine=options.combine)
    except EmbeddingFileError as error:
        raise PrepareError(str(error)) from None
    except EmbeddingError as error:
        raise PrepareError(f"{spec.name}: class embedding: {error}") from None
    except (OSError, ValueError) as error:
        raise PrepareError(f"class embedding vectors: {error}") from None
    return table, {"source": source, "dim": int(table.shape[1]), "combine": options.combine,
                   "tokens": [list(t) for t in tokens]}


def _glove_folder(cache: zstore.StoreLocation) -> Path:
    """Where a user's GloVe file is converted: beside the stores it serves when they are on the local disk,
    else under the local cache/ (gensim reads and writes local files only)."""
    return (zstore.local_path(cache) or CACHE_DIR) / "glove"


def _create(store_path: str, spec: DatasetSpec, options: PrepareOptions, selection: Selection, root: Path,
            config: dict, digest: str, records_digest: str) -> None:
    """Embed the class names, then write the empty store (all statuses pending) at `store_path`, what zarr opens."""
    embedding, embedding_attrs = _class_embedding(spec, options, config["embedding_source"])
    takes, clips = selection.takes, selection.clips
    take_index = {take.key: i for i, take in enumerate(takes)}
    layout = zstore.StoreLayout(
        dataset=spec.name, modalities=selection.modalities, signal_length=spec.signal_length,
        gaf_size=options.gaf_size, segments=spec.video.segments, candidates=spec.video.candidates,
        frame_size=selection.frame_size, take_block=options.take_block, clip_block=options.clip_block,
    )
    zstore.create_store(
        store_path, layout,
        takes={"key": [t.key for t in takes], **{c: [getattr(t, c) for t in takes] for c in zstore.TAKE_INT_COLUMNS}},
        clips={"take": [take_index[c.take_key] for c in clips], "camera": [c.camera for c in clips],
               "video": [_relative(c.video, root) for c in clips]},
        class_names=spec.classes, class_embedding=embedding, embedding_attrs=embedding_attrs,
        attrs={"schema_version": zstore.SCHEMA_VERSION, "dataset": spec.name, "config": config,
               "config_digest": digest, "records_digest": records_digest, "versions": _versions(),
               "scan_problems": list(selection.problems)},
    )
