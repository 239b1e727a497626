"""Streaming residency against in-memory arrays: peak memory, samples/s and data wait, side by side.

    python bench/stream.py [--keep DIR] [--epochs N] [--workers N]

Builds a synthetic UTD-MHAD store with MMAct-like frames (240 x 320; GAF 32 px; in a temporary
folder unless --keep), then trains the VSKD video teacher (TRN over ResNet18, 4 segments, 56 px crops,
batch 8) twice with `cli.py train`, each in its own process:

    ram      every selected frame loaded into host RAM
    stream   --residency auto with --max-memory one third of those arrays, so auto must stream

and samples the proportional set size (PSS: shared pages split between the processes that map
them, so forked DataLoader workers are not counted twice) of each process tree every 0.2 s.
Targets: the streamed run's peak <= budget + what the in-memory run holds besides its arrays
(its peak minus the arrays); stream samples/s >= 0.8x in-memory; data wait < 5% of the epoch.
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

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from pipeline.synthetic import write_dataset  # noqa: E402

DATASET = "synthetic-utd-mhad"
TRAIN = ["--mode", "vision2sensor", "--stage", "teachers", "--dataset", DATASET, "--backbone", "resnet18",
         "--segments", "4", "--crop-size", "56", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-4",
         "--device", "cpu", "--no-baseline", "--overwrite", "--quiet", "--test-every", "0"]


def make_store(folder: Path) -> Path:
    write_dataset("utd-mhad", folder / "raw", subjects=4, takes=4, classes=None, seed=0, frame_size=(240, 320))
    return prepare(PrepareOptions(dataset=DATASET, root=folder / "raw", cache=folder / "cache", gaf_size=32,
                                  frame_size=(240, 320), progress=False)).store_path


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
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--workers", type=int, default=1, help="store reader processes of the streamed run")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    store = make_store(folder)
    epochs = ["--epochs", str(args.epochs)]
    memory = run(store, folder / "runs", "ram", [*epochs, "--residency", "ram"])
    budget = int(memory["arrays"] / 3)
    stream = run(store, folder / "runs", "stream", [*epochs, "--max-memory", str(budget), "--loader-workers", str(args.workers)])
    besides = memory["peak_pss"] - memory["arrays"]
    mib = 2**20
    print(f"store {store}; VSKD video teacher, {args.epochs} epochs, the first untimed")
    print(f"  ram:    {memory['line']}")
    print(f"  stream: {stream['line']}")
    print(f"{'run':8s} {'peak PSS':>10s} {'trainer':>10s} {'readers':>10s} {'samples/s':>10s} {'data wait':>10s}")
    for name, figures in (("ram", memory), ("stream", stream)):
        print(f"{name:8s} {figures['peak_pss'] / mib:6.0f} MiB {figures['peak_main'] / mib:6.0f} MiB "
              f"{figures['peak_readers'] / mib:6.0f} MiB {figures['samples_per_s']:10.1f} {100 * figures['data_wait']:9.1f}%")
    print(f"arrays {memory['arrays'] / mib:.0f} MiB, budget {budget / mib:.0f} MiB (arrays / 3), in-memory run besides "
          f"its arrays {besides / mib:.0f} MiB")
    print(f"stream peak / (budget + the rest): {stream['peak_pss'] / (budget + besides):.2f} (target <= 1); "
          f"its trainer process alone: {stream['peak_main'] / (budget + besides):.2f}")
    print(f"stream samples/s / in-memory: {stream['samples_per_s'] / memory['samples_per_s']:.2f} (target >= 0.8)")
    print(f"stream data wait: {100 * stream['data_wait']:.1f}% of the epoch (target < 5%)")
    if args.json:
        args.json.write_text(json.dumps({"ram": memory, "stream": stream, "budget": budget}, indent=2))


if __name__ == "__main__":
    main()
