"""Training-sample reads: the prepared store vs decoding the raw recordings, side by side in one run.

A sample is one MMAct clip's candidate frames (3 segments x 3 candidates at the datasets.yaml
frame size) plus the GAF images of its take's four sensors. Store reads take random batches
through Store.frames / Store.gaf; raw reads decode the same clips with decord and rebuild the
GAF images from the CSVs. Target: store >= 20x faster per sample.
Usage: python bench/read.py [--clips 8] [--batch 8] [--batches 30]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def read_raw_sample(video: Path, csvs: dict[str, Path], spec, gaf_size: int) -> None:
    """What a trainer without the store would do for one sample."""
    from pipeline.gaf import gaf_images
    from pipeline.signals import clean_stream, resample_stream
    from pipeline.sources.mmact import read_stream
    from pipeline.video import decode_video_frames

    decode_video_frames(video, spec.video.segments, spec.video.candidates, spec.video.frame_size)
    for modality, path in csvs.items():
        stream = clean_stream(read_stream(path, modality), spec.sensors[modality].range)
        gaf_images(resample_stream(stream, spec.signal_length)[None], size=gaf_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--raw-samples", type=int, default=3)
    args = parser.parse_args()

    from prepare import REAL_SAMPLES, SENSORS, build_mmact_tree

    if not (REAL_SAMPLES / "carrying.mp4").exists():
        print(f"bench/read.py skipped: {REAL_SAMPLES / 'carrying.mp4'} (real MMAct sample) absent")
        return

    from pipeline.config import load_dataset
    from pipeline.prepare import PrepareOptions, prepare
    from pipeline.store import open_store

    spec = load_dataset("mmact")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = build_mmact_tree(Path(tmp) / "raw", args.clips)
        report = prepare(PrepareOptions(dataset="mmact", root=root, cache=Path(tmp) / "cache", progress=False))
        store = open_store(report.store_path)
        store.frames([0])  # first-touch costs (codec set-up) outside the timing

        start = time.perf_counter()
        for _ in range(args.batches):
            clips = rng.choice(store.num_clips, size=args.batch)
            takes = store.clips["take"][clips]
            frames = store.frames(clips)
            gafs = [store.gaf(m, takes) for m in store.modalities]
        store_per_sample = (time.perf_counter() - start) / (args.batches * args.batch)
        assert frames.shape[0] == args.batch and gafs[0].shape[0] == args.batch

        start = time.perf_counter()
        for i in rng.choice(store.num_clips, size=args.raw_samples):
            take_key = store.takes["key"][store.clips["take"][i]]
            subject_scene_session = Path(take_key).parent
            csvs = {m: root / f"{m}_clip" / subject_scene_session / "carrying.csv" for m in SENSORS}
            read_raw_sample(root / store.clips["video"][i], csvs, spec, gaf_size=64)
        raw_per_sample = (time.perf_counter() - start) / args.raw_samples
        frames_bytes = sum(f.stat().st_size for f in (store.path / "video" / "frames").rglob("*") if f.is_file())

    print(f"MMAct sample = {spec.video.segments}x{spec.video.candidates} frames {spec.video.frame_size[0]}x"
          f"{spec.video.frame_size[1]} + 4 sensor GAFs; random batches of {args.batch}")
    print(f"  store        {store_per_sample * 1e3:8.2f} ms/sample  {1 / store_per_sample:8.1f} samples/s")
    print(f"  raw decode   {raw_per_sample * 1e3:8.2f} ms/sample  {1 / raw_per_sample:8.1f} samples/s")
    print(f"  store speed-up {raw_per_sample / store_per_sample:.0f}x (target >= 20x)")
    print(f"  frames on disk {frames_bytes / args.clips / 1e6:.2f} MB/clip; MMAct 35k clips -> "
          f"{35_000 * frames_bytes / args.clips / 1e9:.1f} GB")


if __name__ == "__main__":
    main()
