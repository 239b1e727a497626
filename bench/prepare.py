"""Prepare speed on real MMAct footage, measured side by side in one run.

Builds an MMAct tree of copies of the real sample (1920x1080 H.264, 268 frames, and its
accelerometer CSV for every sensor), then times, at the datasets.yaml frame size:
  decord alone   decoding exactly the candidate frames prepare stores (the floor), one clip at a time;
  prepare        the whole command (scan, embeddings, store, sensors + GAF, frames) with 1 and 2 workers
                 of the local threads scheduler;
  cluster        the same graph on a dask.distributed LocalCluster of 2 worker processes (1 thread each)
                 started here and given to prepare as `--scheduler tcp://...` (cluster start-up untimed);
and projects the full MMAct release (35,162 clips) from the cluster's clips/s per single-core worker.
Targets: prepare(1 worker) <= 1.3x decord alone; 2 workers faster than 1.
Usage: python bench/prepare.py [--clips 8]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL_SAMPLES = REPO.parent / "shared" / "real-samples"
SENSORS = ("acc_phone", "acc_watch", "gyro", "orientation")


def build_mmact_tree(root: Path, clips: int) -> Path:
    """MMAct layout with `clips` copies of carrying.mp4 (4 cameras per take) and one CSV per sensor and take."""
    video, csv = REAL_SAMPLES / "carrying.mp4", REAL_SAMPLES / "carrying.csv"
    for i in range(clips):
        subject, camera = i // 4 + 1, i % 4 + 1
        target = root / f"subject{subject}" / f"cam{camera}" / "scene1" / "session1" / "carrying.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, target)
        for sensor in SENSORS:
            sensor_file = root / f"{sensor}_clip" / f"subject{subject}" / "scene1" / "session1" / "carrying.csv"
            sensor_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(csv, sensor_file)
    return root


def decord_alone(videos: list[Path], segments: int, candidates: int, frame_size: tuple[int, int]) -> float:
    """Seconds to decode the same candidate frames with bare decord (its resize, sorted batch)."""
    import decord
    import numpy as np

    from pipeline.sampling import segment_candidate_indices

    height, width = frame_size
    start = time.perf_counter()
    for path in videos:
        reader = decord.VideoReader(str(path), width=width, height=height)
        indices = np.unique(segment_candidate_indices(len(reader), segments, candidates))
        reader.get_batch(indices.tolist()).asnumpy()
    return time.perf_counter() - start


MMACT_CLIPS = 35_162
CLUSTER_WORKERS = 2


def time_prepare(root: Path, cache: Path, workers: int | None, scheduler: str = "threads") -> float:
    from pipeline.prepare import PrepareOptions, prepare

    start = time.perf_counter()
    report = prepare(PrepareOptions(dataset="mmact", root=root, cache=cache, workers=workers, force=True,
                                    progress=False, scheduler=scheduler))
    seconds = time.perf_counter() - start
    if report.failed:
        sys.exit(f"bench prepare failed: {report.failed}")
    return seconds


def time_cluster(root: Path, cache: Path, workers: int) -> float:
    """prepare on a LocalCluster of `workers` single-thread processes, through its tcp:// address."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        return time_prepare(root, cache, None, scheduler=cluster.scheduler_address)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args()

    if not (REAL_SAMPLES / "carrying.mp4").exists():
        print(f"bench/prepare.py skipped: {REAL_SAMPLES / 'carrying.mp4'} (real MMAct sample) absent")
        return
    from pipeline.config import load_dataset
    from pipeline.embeddings import load_glove
    from pipeline.store import open_store, store_path

    spec = load_dataset("mmact")
    load_glove()  # convert the GloVe package once, outside the timings (a one-off per machine)
    with tempfile.TemporaryDirectory() as tmp:
        root = build_mmact_tree(Path(tmp) / "raw", args.clips)
        videos = sorted(root.glob("subject*/cam*/**/*.mp4"))
        decord_alone(videos[:1], spec.video.segments, spec.video.candidates, spec.video.frame_size)  # warm-up
        floor = decord_alone(videos, spec.video.segments, spec.video.candidates, spec.video.frame_size)
        one = time_prepare(root, Path(tmp) / "cache", workers=1)
        two = time_prepare(root, Path(tmp) / "cache", workers=2)
        cluster = time_cluster(root, Path(tmp) / "cache", workers=CLUSTER_WORKERS)
        store = open_store(store_path(Path(tmp) / "cache", "mmact"))
        frames_bytes = store.array("video/frames").nbytes_stored()
        store_bytes = store.stored_bytes()

    n = len(videos)
    height, width = spec.video.frame_size
    per_clip = frames_bytes / n
    print(f"MMAct real sample x {n} clips (1920x1080 H.264, 268 frames) -> {spec.video.segments}x"
          f"{spec.video.candidates} frames of {height}x{width}")
    print(f"  decord alone, same frames   {floor:7.2f} s  {n / floor:6.2f} clips/s")
    print(f"  prepare, 1 worker           {one:7.2f} s  {n / one:6.2f} clips/s  ratio to decord {one / floor:.2f}x (target <= 1.3x)")
    print(f"  prepare, 2 workers          {two:7.2f} s  {n / two:6.2f} clips/s  speed-up over 1 worker {one / two:.2f}x")
    print(f"  LocalCluster, 2 processes   {cluster:7.2f} s  {n / cluster:6.2f} clips/s  speed-up over 1 worker "
          f"{one / cluster:.2f}x")
    per_core = n / cluster / CLUSTER_WORKERS  # each cluster process has one core of this machine to itself
    for workers in (1, 8, 32, 64):
        hours = MMACT_CLIPS / (per_core * workers) / 3600
        print(f"  projection, MMAct {MMACT_CLIPS} clips on {workers:2d} single-core workers at the cluster's "
              f"{per_core:.2f} clips/s each: {hours:6.2f} h")
    raw = spec.video.segments * spec.video.candidates * height * width * 3
    print(f"  frames on disk per clip     {per_clip / 1e6:7.2f} MB  (raw {raw / 1e6:.2f} MB, zstd ratio {raw / per_clip:.2f})")
    print(f"  whole store per clip        {store_bytes / n / 1e6:7.2f} MB")
    print(f"  projection, MMAct 35k clips {35_000 * per_clip / 1e9:7.1f} GB of frames")


if __name__ == "__main__":
    main()
