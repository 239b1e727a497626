"""Training throughput of both modes: samples/s and the share of step time spent waiting for data.

    python bench/train.py [--device auto|cpu|cuda] [--epochs N] [--keep DIR] [--only-cache] [--json FILE]
                          [--dataset synthetic-utd-mhad|synthetic-mmact]

Builds a small synthetic UTD-MHAD (or --dataset synthetic-mmact) store (synthesise + prepare, in a
temporary folder unless --keep), then times training epochs of each stage of both modes through the real engine
(training.engine.trainer.train_epoch): SAKDN teachers, SAKDN student (TRN + frozen teachers + GSDM),
VSKD teacher (TRN), VSKD student (ResNet18 + frozen TRN + DASK). Teachers are untrained: speed
does not depend on their weights. "data wait" is the time the step loop blocks on the next batch
(gather + augmentation, built ahead in a thread when workers > 0) divided by the epoch time;
the target is under 5%.

On the CPU: demo sizes (GAF 32 px, 56 px crops, 4 segments, batch 8), with the batch built
inline (workers 0) and prefetched (workers 1). With CUDA: the papers' sizes (224 px crops and
GAF, 8 segments, batch 16) with and without bf16 autocast + channels_last.

Then the SAKDN student with its frozen-teacher cache off and on (training.recipes.teacher_cache), side
by side in this run: samples/s and data wait (target: >= 2x with the cache), the cache's one-off build
time, and one profiled epoch of each split into the step's named scopes, in ms per step: student
forward, teacher forward (a gather from the cache when on), the terms (ST, GSDM with its two ablated
passes apart, semantic), backward, optimiser, and the data wait. `--json` writes that comparison.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import load_dataset  # noqa: E402
from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from pipeline.synthetic import write_dataset  # noqa: E402
from training.data.loaders import build_data  # noqa: E402
from training.engine.trainer import Context, make_optimizer, place_stage, train_epoch  # noqa: E402
from training.models.normalize import input_normalizer  # noqa: E402
from training.options import KD_NONE  # noqa: E402
from training.recipes import sakdn, vskd  # noqa: E402
from training.recipes.common import video_network  # noqa: E402
from training.run.config import resolve_options  # noqa: E402

# the synthetic datasets (2 and 4 sensors): raw layout, classes written (None: all) and the protocol trained on
DATASETS = {"synthetic-utd-mhad": ("utd-mhad", None, None),
            "synthetic-mmact": ("mmact", list(range(8)), "few-sessions")}
# the profiler scopes of a distilled student's step (training.recipes.student, sakdn; training.engine.trainer):
# terms holds term.* and the gsdm.* ablated passes
SCOPES = ("student_forward", "teacher_forward", "terms", "term.st", "gsdm.ablated_student", "gsdm.ablated_teacher",
          "term.gsdm", "term.semantic", "backward", "optimizer")


def make_store(folder: Path, dataset: str, frame_size: tuple[int, int], gaf_size: int) -> Path:
    layout, classes, _ = DATASETS[dataset]
    write_dataset(layout, folder / "raw", subjects=4, takes=4, classes=classes, seed=0, frame_size=frame_size)
    return prepare(PrepareOptions(dataset=dataset, root=folder / "raw", cache=folder / "cache", gaf_size=gaf_size,
                                  frame_size=frame_size, progress=False)).store_path


def build(stage_name: str, mode: str, store, spec, options):
    """The stage to time; student stages get freshly initialised (untrained) frozen teachers."""
    if mode == "sensor2vision" and stage_name == "teachers":
        return sakdn.teachers_stage(store, spec, options)
    if mode == "vision2sensor" and stage_name == "teachers":
        return vskd.teachers_stage(store, spec, options)
    if mode == "sensor2vision":
        teachers = sakdn.teachers_stage(store, spec, options)
        net, arch = video_network(store, spec, options)
        return sakdn.SakdnStudent(net, arch, teachers.net, teachers.arch, torch.from_numpy(store.class_embedding),
                                  options)
    teacher = vskd.teachers_stage(store, spec, options)
    student = vskd.student_stage(store, spec, dataclasses.replace(options, kd=KD_NONE), None)
    return vskd.VskdStudent(student.net, student.modality, student.arch, teacher.net, teacher.arch, options)


def stage_data(stage, store, spec, options, ctx: Context):
    """The stage on the device and its data (the bench's sizes), as `train` builds them."""
    video = stage.video_arch
    normalize = input_normalizer(video.backbone).to(ctx.device) if video else None
    optim = options.teacher if stage_is_teacher(stage) else options.student
    data = build_data(store, spec, dataclasses.replace(options.data, gaf_size=stage.gaf_size), stage.unit,
                      stage.train_needs, stage.eval_needs, optim.batch_size, ctx.device, normalize,
                      channels_last=ctx.channels_last)
    place_stage(stage, ctx)
    return data, optim


def time_stage(stage, data, optim, ctx: Context, epochs: int) -> tuple[float, float]:
    """(samples/s, data-wait share) over `epochs` epochs after one warm-up epoch."""
    optimizer = make_optimizer(optim, [p for p in stage.parameters() if p.requires_grad])
    samples = seconds = waiting = 0.0
    for epoch in range(epochs + 1):
        stats = train_epoch(stage, stage, data.train, optimizer, optim, ctx, epoch)
        if epoch > 0:
            samples, seconds, waiting = samples + stats.samples, seconds + stats.seconds, waiting + stats.data_seconds
    return samples / seconds, waiting / seconds


def step_split(stage, data, optim, ctx: Context) -> dict[str, float]:
    """Milliseconds per step in each named scope of one profiled epoch (SCOPES), and the data wait."""
    optimizer = make_optimizer(optim, [p for p in stage.parameters() if p.requires_grad])
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        stats = train_epoch(stage, stage, data.train, optimizer, optim, ctx, 0, probe_gradients=False)
    steps = len(data.train)
    totals = {event.key: event.cpu_time_total / 1e3 / steps for event in profile.key_averages() if event.key in SCOPES}
    return {**{scope: totals.get(scope, 0.0) for scope in SCOPES}, "data wait": 1e3 * stats.data_seconds / steps}


def teacher_cache_comparison(store, spec, sizes: dict, device: torch.device, epochs: int) -> dict:
    """The SAKDN student with its teacher cache off and on, side by side: samples/s, data wait, the
    cache's build time, and each step split into scopes (one profiled epoch)."""
    results = {}
    for cached in (False, True):
        options = bench_options(store, "sensor2vision", sizes, device, workers=0)
        torch.manual_seed(0)
        stage = build("student", "sensor2vision", store, spec, options)
        ctx = Context(device=device, amp=False, channels_last=False, progress=False)
        data, optim = stage_data(stage, store, spec, options, ctx)
        build_seconds = (stage.cache_teacher(data.train, store.attrs["config_digest"], ctx.autocast).seconds
                         if cached else 0.0)
        rate, wait = time_stage(stage, data, optim, ctx, epochs)
        results["on" if cached else "off"] = {"samples_per_s": rate, "data_wait": wait, "build_s": build_seconds,
                                              "ms_per_step": step_split(stage, data, optim, ctx)}
    return results


def print_comparison(results: dict) -> None:
    off, on = results["off"], results["on"]
    print(f"\nSAKDN student, teacher cache off / on: {off['samples_per_s']:.1f} / {on['samples_per_s']:.1f} samples/s "
          f"({on['samples_per_s'] / off['samples_per_s']:.2f}x; target >= 2x), data wait {100 * off['data_wait']:.1f}% "
          f"/ {100 * on['data_wait']:.1f}%, cache built once in {on['build_s']:.1f} s")
    print(f"{'ms per step (profiled epoch)':30s} {'off':>8s} {'on':>8s}")
    for scope in [*SCOPES, "data wait"]:
        print(f"  {scope:28s} {off['ms_per_step'][scope]:8.1f} {on['ms_per_step'][scope]:8.1f}")


def bench_options(store, mode: str, sizes: dict, device: torch.device, workers: int):
    """The run options of a timed stage: the bench's sizes (segments: at most those stored), the
    dataset's protocol of DATASETS, Adam 1e-4."""
    return resolve_options(store.dataset, mode, store=store.path, protocol=DATASETS[store.dataset][2],
                           backbone="bninception" if device.type == "cuda" else "resnet18", gaf_size=sizes["gaf"],
                           crop_size=sizes["crop"], segments=min(sizes["segments"], store.segments),
                           batch_size=sizes["batch"], optimizer="adam", lr=1e-4, loader_workers=workers,
                           device=str(device))


def stage_is_teacher(stage) -> bool:
    return not hasattr(stage, "teachers") and not hasattr(stage, "teacher")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per configuration (after a warm-up)")
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    parser.add_argument("--only-cache", action="store_true", help="only the teacher-cache comparison")
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="synthetic-utd-mhad",
                        help="the synthetic store: UTD-MHAD's 2 sensors or MMAct's 4 (one SAKDN teacher each)")
    parser.add_argument("--json", type=Path, default=None, help="write the teacher-cache comparison here")
    args = parser.parse_args()
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda:
        sizes = dict(frame=(256, 320), gaf_store=64, gaf=224, crop=224, segments=8, batch=16)
        variants = [("fp32", False, False), ("bf16+channels_last", True, True)]
        workers = [1]
    else:
        sizes = dict(frame=(64, 80), gaf_store=32, gaf=32, crop=56, segments=4, batch=8)
        variants = [("fp32", False, False)]
        workers = [0, 1]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-train-"))
    folder.mkdir(parents=True, exist_ok=True)
    store_path = make_store(folder, args.dataset, sizes["frame"], sizes["gaf_store"])
    store, spec = open_store(store_path), load_dataset(args.dataset)
    device = torch.device("cuda" if cuda else "cpu")
    print(f"device {device}, torch threads {torch.get_num_threads()}, crops {sizes['crop']} px, GAF {sizes['gaf']} px, "
          f"{sizes['segments']} segments, batch {sizes['batch']}, store {store_path}")
    print(f"{'mode':14s} {'stage':9s} {'variant':20s} {'workers':>7s} {'samples/s':>10s} {'data wait':>10s}")
    for mode in () if args.only_cache else ("sensor2vision", "vision2sensor"):
        for stage_name in ("teachers", "student"):
            for variant, amp, channels_last in variants:
                for worker_count in workers:
                    options = bench_options(store, mode, sizes, device, worker_count)
                    torch.manual_seed(0)
                    stage = build(stage_name, mode, store, spec, options)
                    ctx = Context(device=device, amp=amp, channels_last=channels_last, progress=False)
                    rate, wait = time_stage(stage, *stage_data(stage, store, spec, options, ctx), ctx, args.epochs)
                    print(f"{mode:14s} {stage_name:9s} {variant:20s} {worker_count:7d} {rate:10.1f} {100 * wait:9.1f}%",
                          flush=True)
    comparison = teacher_cache_comparison(store, spec, sizes, device, args.epochs)
    print_comparison(comparison)
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "device": str(device), "teacher_cache": comparison}, indent=1))


if __name__ == "__main__":
    main()
