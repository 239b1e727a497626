"""Streaming residency against in-memory arrays: peak memory, samples/s and data wait, side by side.

    python bench/stream.py [--keep DIR] [--epochs N] [--workers N] [--json FILE]

Builds a synthetic UTD-MHAD store with MMAct-like frames (240 x 320; GAF 32 px; in a temporary
folder unless --keep), then trains the VSKD video teacher (TRN over ResNet18, 4 segments, 56 px crops,
batch 8) with `cli.py train`, each run in its own process:

    ram      every selected frame loaded into host RAM
    stream   --residency auto with --max-memory one third of those arrays, so auto must stream
    stream2x the same budget on a store of twice the subjects: a streamed run's memory must not grow
             with the dataset

and samples the proportional set size (PSS: shared pages split between the processes that map
them, so forked reader processes are not counted twice) of each process tree every 0.2 s. Beside
them, with no training: the store reader alone on one core (`reader_samples_per_s_per_core`: the
training split read batch by batch inline, as a reader process reads it) and the frame bytes a
sample decompresses (one chunk per slot: the segments it samples; schema 1's one chunk per clip:
every stored slot).
Targets: the streamed run's peak <= budget + what the in-memory run holds besides its arrays
(its peak minus the arrays); stream samples/s >= 0.8x in-memory with data wait < 5% of the epoch,
or, where reader and step compete for two cores, a reader >= 5x the in-memory samples/s per core;
the trainer's peak at 2x within 10% of 1x.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import load_dataset  # noqa: E402
from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from pipeline.synthetic import write_dataset  # noqa: E402
from training.data.loaders import build_data  # noqa: E402
from training.recipes import vskd  # noqa: E402
from training.run.config import resolve_options  # noqa: E402

DATASET = "synthetic-utd-mhad"
TRAIN = ["--mode", "vision2sensor", "--stage", "teachers", "--dataset", DATASET, "--backbone", "resnet18",
         "--segments", "4", "--crop-size", "56", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-4",
         "--device", "cpu", "--no-baseline", "--overwrite", "--quiet", "--test-every", "0"]


def make_store(folder: Path, subjects: int = 4) -> Path:
    write_dataset("utd-mhad", folder / "raw", subjects=subjects, takes=4, classes=None, seed=0, frame_size=(240, 320))
    return prepare(PrepareOptions(dataset=DATASET, root=folder / "raw", cache=folder / "cache", gaf_size=32,
                                  frame_size=(240, 320), progress=False)).store_path


def reader_alone(store_path: Path) -> dict:
    """The store reader with no training, inline on one core: samples/s over the training split of one
    epoch (the stream run's plans and reads), and the frame bytes a sample decompresses."""
    torch.set_num_threads(1)
    options = resolve_options(DATASET, "vision2sensor", store=store_path, stage="teachers", backbone="resnet18",
                              segments=4, crop_size=56, batch_size=8, residency="stream", loader_workers=0,
                              device="cpu")
    store, spec = open_store(store_path), load_dataset(DATASET)
    stage = vskd.teachers_stage(store, spec, options)
    data = build_data(store, spec, options.data, stage.unit, stage.train_needs, stage.eval_needs, 8,
                      torch.device("cpu"))
    started, samples = time.perf_counter(), 0
    for plan, _ in data.train.gathered(0):
        samples += len(plan.takes)
    seconds = time.perf_counter() - started
    frame = int(np.prod(store.layout.frame_size)) * 3
    return {"samples_per_s": samples / seconds, "frame_bytes_per_sample": data.segments * frame,
            "frame_bytes_per_sample_clip_chunks": store.layout.frames_per_clip * frame}


def tree_pss(process: psutil.Process) -> tuple[int, int]:
    """PSS in bytes of a process, and of all its children together (0 for those that ended meanwhile)."""
    sizes = []
    for member in [process, *process.children(recursive=True)]:
        try:
            sizes.append(member.memory_full_info().pss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            sizes.append(0)
    return sizes[0], sum(sizes[1:])


def run(store: Path, runs: Path, name: str, extra: list[str]) -> dict:
    """One training process: its peak PSS, the arrays line it printed and its epoch figures."""
    command = [sys.executable, str(ROOT / "cli.py"), "train", *TRAIN, "--store", str(store), "--runs-dir", str(runs),
               "--name", name, *extra]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, watched = {"total": 0, "main": 0, "readers": 0}, psutil.Process(child.pid)

    def sample() -> None:
        while child.poll() is None:
            main, readers = tree_pss(watched)
            peak.update(total=max(peak["total"], main + readers), main=max(peak["main"], main),
                        readers=max(peak["readers"], readers))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{name}: train failed\n{output}")
    arrays = re.search(r"arrays ([0-9.]+) (GiB|MiB|KiB)", output)
    scale = {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10}[arrays.group(2)]
    epochs = [json.loads(line) for line in (runs / name / "teachers" / "metrics.jsonl").read_text().splitlines()]
    timed = epochs[1:] or epochs  # the first epoch warms up
    return {"peak_pss": peak["total"], "peak_main": peak["main"], "peak_readers": peak["readers"], "arrays": float(arrays.group(1)) * scale,
            "samples_per_s": sum(e["samples_per_s"] for e in timed) / len(timed),
            "data_wait": sum(e["data_wait"] for e in timed) / len(timed),
            "line": next(line for line in output.splitlines() if "residency" in line)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="build the stores here and keep them")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--workers", type=int, default=1, help="store reader processes of the streamed runs")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    store, double = make_store(folder / "1x"), make_store(folder / "2x", subjects=8)
    epochs = ["--epochs", str(args.epochs)]
    memory = run(store, folder / "runs", "ram", [*epochs, "--residency", "ram"])
    budget = int(memory["arrays"] / 3)
    streamed = ["--max-memory", str(budget), "--loader-workers", str(args.workers)]
    stream = run(store, folder / "runs", "stream", [*epochs, *streamed])
    stream2x = run(double, folder / "runs", "stream2x", [*epochs, *streamed])
    reader = reader_alone(store)
    report(memory, stream, stream2x, reader, budget, args.epochs)
    if args.json:
        args.json.write_text(json.dumps({"ram": memory, "stream": stream, "stream_2x": stream2x, "budget": budget,
                                         "reader": reader,
                                         "reader_samples_per_s_per_core": reader["samples_per_s"]}, indent=2))


def report(memory: dict, stream: dict, stream2x: dict, reader: dict, budget: int, epochs: int) -> None:
    """The side-by-side table and each target's ratio."""
    besides, mib = memory["peak_pss"] - memory["arrays"], 2**20
    print(f"VSKD video teacher, {epochs} epochs, the first untimed")
    for name, figures in (("ram", memory), ("stream", stream), ("stream2x", stream2x)):
        print(f"  {name:8s} {figures['line']}")
    print(f"{'run':8s} {'peak PSS':>10s} {'trainer':>10s} {'readers':>10s} {'samples/s':>10s} {'data wait':>10s}")
    for name, figures in (("ram", memory), ("stream", stream), ("stream2x", stream2x)):
        print(f"{name:8s} {figures['peak_pss'] / mib:6.0f} MiB {figures['peak_main'] / mib:6.0f} MiB "
              f"{figures['peak_readers'] / mib:6.0f} MiB {figures['samples_per_s']:10.1f} {100 * figures['data_wait']:9.1f}%")
    print(f"arrays {memory['arrays'] / mib:.0f} MiB, budget {budget / mib:.0f} MiB (arrays / 3), in-memory run besides "
          f"its arrays {besides / mib:.0f} MiB")
    print(f"stream peak / (budget + the rest): {stream['peak_pss'] / (budget + besides):.2f} (target <= 1); "
          f"its trainer process alone: {stream['peak_main'] / (budget + besides):.2f}")
    print(f"stream samples/s / in-memory: {stream['samples_per_s'] / memory['samples_per_s']:.2f} (target >= 0.8), "
          f"data wait {100 * stream['data_wait']:.1f}% (target < 5%)")
    print(f"store reader alone, one core: {reader['samples_per_s']:.1f} samples/s = "
          f"{reader['samples_per_s'] / memory['samples_per_s']:.1f}x the in-memory run (target >= 5x where reader "
          f"and step share two cores); frame bytes per sample {reader['frame_bytes_per_sample'] / mib:.2f} MiB "
          f"(one chunk per clip: {reader['frame_bytes_per_sample_clip_chunks'] / mib:.2f} MiB)")
    print(f"streamed trainer peak at 2x the dataset / 1x: {stream2x['peak_main'] / stream['peak_main']:.2f} "
          f"(target within 10%)")

if __name__ == "__main__":
    main()
