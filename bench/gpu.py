"""The training step at the papers' sizes: fp32 against bf16 + channels_last against + torch.compile.

    python bench/gpu.py [--device cuda|cpu] [--size paper|small] [--steps N] [--json FILE] [--store STORE]
                        [--variants fp32,bf16+cl,bf16+cl+compile] [--peak-tflops T] [--keep DIR]

Two steps, each a real forward + backward + Adam step of the engine's stages on device-resident
random inputs (speed does not depend on the values):

    sakdn_student     TRN over BN-Inception, 8 segments x 224 px, batch 16, distilled from the frozen
                      SPAMFM-fused VGG16-BN teachers of the store's sensors (ST + GSDM + SP)
    vgg16bn_teachers  the fused VGG16-BN sensor teachers on 224 px GAF images, batch 16

For each: median step time over --steps (after warm-up steps), samples/s, peak device memory, and
MFU = counted FLOPs per step (torch.utils.flop_counter, forward + backward) / step time / the
device's dense bf16 peak (a table of known GPUs, or --peak-tflops). Goals: bf16 + channels_last
>= 2x fp32; the student step >= 25% MFU. Then the data path at the same sizes: a synthetic
UTD-MHAD store with 240 x 320 frames, one epoch of the student with in-memory arrays and one
streamed from the store, and each epoch's data wait (the share of the epoch spent waiting for
batches). `--size small` (the default on the CPU) shrinks everything so the script runs in a
minute there; it is what the test suite runs.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import load_dataset  # noqa: E402
from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from pipeline.synthetic import write_dataset  # noqa: E402
from training.data.loaders import Batch, build_data  # noqa: E402
from training.engine.trainer import Context, make_optimizer, train_epoch  # noqa: E402
from training.models.normalize import input_normalizer  # noqa: E402
from training.recipes import sakdn  # noqa: E402
from training.recipes.common import video_network  # noqa: E402
from training.run.config import resolve_options  # noqa: E402

DATASET = "synthetic-utd-mhad"
SIZES = {  # frames stored, crop, GAF, segments, batch, backbone
    "paper": dict(frame=(240, 320), crop=224, gaf=224, segments=8, batch=16, backbone="bninception"),
    "small": dict(frame=(48, 64), crop=32, gaf=32, segments=2, batch=4, backbone="resnet18"),
}
VARIANTS = {"fp32": (False, False, False), "bf16+cl": (True, True, False), "bf16+cl+compile": (True, True, True)}
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0}


def device_peak(device: torch.device, override: float | None) -> float | None:
    """Dense bf16 peak in FLOP/s: --peak-tflops, else the table entry named in the device's name."""
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops * 1e12 for key, tflops in BF16_PEAK_TFLOPS.items() if key in name), None)


def make_store(folder: Path, frame: tuple[int, int], gaf: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset("utd-mhad", folder / "raw", subjects=4, takes=4, classes=None, seed=0, frame_size=frame)
    return prepare(PrepareOptions(dataset=DATASET, root=folder / "raw", cache=folder / "cache", gaf_size=gaf,
                                  frame_size=frame, progress=False)).store_path


def build_stages(store, spec, options) -> dict:
    """The two benchmarked stages, untrained (speed does not depend on the weights)."""
    teachers = sakdn.teachers_stage(store, spec, options)
    net, arch = video_network(store, spec, options)
    student = sakdn.SakdnStudent(net, arch, teachers.net, teachers.arch, torch.from_numpy(store.class_embedding),
                                 options)
    return {"sakdn_student": student, "vgg16bn_teachers": sakdn.teachers_stage(store, spec, options)}


def random_batch(stage, modalities, size: dict, classes: int, device: torch.device, channels_last: bool) -> Batch:
    """Device-resident inputs of one batch of the shapes the stage reads."""
    n, memory = size["batch"], torch.channels_last if channels_last else torch.contiguous_format
    batch = Batch(label=torch.randint(0, classes, (n,), device=device), take=np.arange(n), clip=np.arange(n))
    if stage.train_needs.video:
        frames = torch.randn(n * size["segments"], 3, size["crop"], size["crop"], device=device)
        batch.video = frames.contiguous(memory_format=memory).unflatten(0, (n, size["segments"]))
    for m in modalities:
        batch.sensors[m] = torch.randn(n, 3, size["gaf"], size["gaf"], device=device).contiguous(memory_format=memory)
    return batch


def step_flops(stage, batch: Batch) -> int:
    """FLOPs of one forward + backward (fp32, uncompiled)."""
    with FlopCounterMode(display=False) as counter:
        stage(batch).loss.backward()
    stage.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def time_variant(stage, batch: Batch, ctx: Context, optim, compiled: bool, steps: int, warmup: int) -> dict:
    """Median step seconds and peak device memory of `steps` timed training steps."""
    model = torch.compile(stage) if compiled else stage
    optimizer = make_optimizer(optim, [p for p in stage.parameters() if p.requires_grad])
    cuda = ctx.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        with ctx.autocast():
            out = model(batch)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize(ctx.device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(ctx.device) if cuda else None
    return {"step_s": statistics.median(times), "peak_memory": peak}


def data_wait(store, spec, options, stage, ctx: Context) -> dict:
    """The data-wait share of one student epoch with in-memory arrays and streamed from the store."""
    video = stage.video_arch
    normalize = input_normalizer(video.backbone).to(ctx.device)
    optim = options.student
    out = {}
    for residency in ("auto", "stream"):
        data_options = dataclasses.replace(options.data, residency=residency, gaf_size=stage.gaf_size)
        data = build_data(store, spec, data_options, stage.unit, stage.train_needs, stage.eval_needs, optim.batch_size,
                          ctx.device, normalize, channels_last=ctx.channels_last)
        optimizer = make_optimizer(optim, [p for p in stage.parameters() if p.requires_grad])
        stats = train_epoch(stage, stage, data.train, optimizer, optim, ctx, 0)
        out[data.residency.where] = {"data_wait": stats.data_wait, "samples_per_s": stats.samples_per_s,
                                     "arrays": data.residency.nbytes}
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", choices=tuple(SIZES), default=None, help="[default: paper on CUDA, small on the CPU]")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation runs here)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak")
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    parser.add_argument("--store", type=Path, default=None,
                        help="a synthetic UTD-MHAD store already prepared at the size's frames (e.g. with --keep on "
                             "another machine): skip building one, so neither decord nor GloVe is needed here")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    size = SIZES[args.size or ("paper" if device.type == "cuda" else "small")]
    store_path = args.store or make_store(args.keep or Path(tempfile.mkdtemp(prefix="bench-gpu-")), size["frame"],
                                          max(size["gaf"] // 4, 16))
    store, spec = open_store(store_path), load_dataset(DATASET)
    options = resolve_options(DATASET, "sensor2vision", store=store_path, backbone=size["backbone"],
                              gaf_size=size["gaf"], crop_size=size["crop"], segments=size["segments"],
                              batch_size=size["batch"], optimizer="adam", lr=1e-4, device=str(device), loader_workers=None)
    peak = device_peak(device, args.peak_tflops)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}; bf16 peak {peak / 1e12:.0f} TFLOP/s" if peak else f"device {name}; no bf16 peak known")
    print(f"sizes {size}")
    results: dict = {"device": name, "peak_flops": peak, "size": size, "steps": {}}
    print(f"{'step':18s} {'variant':16s} {'step ms':>9s} {'samples/s':>10s} {'MFU':>7s} {'peak mem':>10s}")
    for stage_name, stage in build_stages(store, spec, options).items():
        stage.to(device)
        modalities = stage.train_needs.modalities
        flops = step_flops(stage, random_batch(stage, modalities, size, spec.num_classes, device, False))
        results["steps"][stage_name] = {"flops": flops, "variants": {}}
        for variant in args.variants.split(","):
            amp, channels_last, compiled = VARIANTS[variant]
            stage.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            ctx = Context(device=device, amp=amp, channels_last=channels_last, progress=False)
            optim = options.student if stage_name == "sakdn_student" else options.teacher
            batch = random_batch(stage, modalities, size, spec.num_classes, device, channels_last)
            timing = time_variant(stage, batch, ctx, optim, compiled, args.steps, args.warmup)
            mfu = flops / timing["step_s"] / peak if peak else None
            rate = size["batch"] / timing["step_s"]
            results["steps"][stage_name]["variants"][variant] = {**timing, "samples_per_s": rate, "mfu": mfu}
            memory = f"{timing['peak_memory'] / 2**30:.1f} GiB" if timing["peak_memory"] is not None else "-"
            shown = f"{100 * mfu:.1f}%" if mfu is not None else "-"
            print(f"{stage_name:18s} {variant:16s} {1e3 * timing['step_s']:9.1f} {rate:10.1f} {shown:>7s} {memory:>10s}",
                  flush=True)
        variants = results["steps"][stage_name]["variants"]
        if "fp32" in variants and "bf16+cl" in variants:
            speedup = variants["fp32"]["step_s"] / variants["bf16+cl"]["step_s"]
            print(f"{stage_name}: bf16 + channels_last {speedup:.2f}x fp32 (goal >= 2x)")
    student = build_stages(store, spec, options)["sakdn_student"].to(device)
    ctx = Context(device=device, amp=device.type == "cuda", channels_last=device.type == "cuda", progress=False)
    results["data_wait"] = data_wait(store, spec, options, student, ctx)
    for where, figures in results["data_wait"].items():
        print(f"data path {where:7s}: data wait {100 * figures['data_wait']:.1f}% of the epoch, "
              f"{figures['samples_per_s']:.1f} samples/s, arrays {figures['arrays'] / 2**20:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
