"""`demo`: the whole project on a fresh CPU machine in a few minutes, ending in ONE table.

1. synthesise a small UTD-MHAD-layout tree (pipeline.synthetic.write_dataset; skipped when the
   same settings already wrote it), 2. prepare it into cache/synthetic-utd-mhad.zarr (reused when
   prepared with the same settings), 3. train at small sizes on the CPU:

    demo-sakdn/    sensor teachers (VGG16-BN x2 + SPAMFM) -> SAKDN video student (TRN-resnet18)
    demo-vskd/     video teacher (TRN-resnet18, CE) -> VSKD sensor student (ResNet18 on acc GAF, DASK)
    demo-sensor-baseline/   ResNet18 on acc GAF, CE only

   The video baseline of SAKDN (TRN, CE only) and the video teacher of VSKD are the same network
   trained the same way, so one run serves both rows. 4. score the classical baseline (random
   forest / logistic regression on signal statistics) on the same protocol, 5. print the table.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import load_dataset
from training.baseline import run_baseline
from training.options import resolve_options
from training.recipes import open_checked_store, run_training
from training.report import RESULTS_FILE

DATASET = "synthetic-utd-mhad"
SYNTH_MARKER = "demo-synth.json"


@dataclass
class DemoOptions:
    """Sizes picked so that every network learns within the time on two CPU cores (from scratch).

    Departures from the papers' defaults, all flags of `train`: the TRNs read "motion" input
    (each segment minus the clip's mean frame; from RGB, a from-scratch TRN does not leave chance
    on these small videos within the budget, while a linear model on frame differences reaches
    ~75%); every embedding-matching term is weighted 0.1 (the teachers' class-embedding MSE and
    gamma, the student's SP / semantic MSE: the summed 50-d GloVe targets and the unnormalised
    embeddings are ~10x larger than the paper's, and at weight 1 they drown the CE); TRN dropout
    0.5 (VSKD's value) instead of 0.8; Adam instead of SGD, as nothing is pretrained; the LR drops
    10x after two thirds of the epochs.
    """

    workdir: Path = Path(".")
    subjects: int = 4
    takes: int = 4
    classes: tuple[int, ...] | None = None  # None: the synthetic default of six distinct motions
    frame_size: tuple[int, int] = (64, 80)  # rendered and stored (H, W)
    gaf_size: int = 32
    crop: int = 56
    segments: int = 4
    backbone: str = "resnet18"
    video_input: str = "motion"
    dropout: float = 0.5
    teacher_semantic: float = 0.1
    gamma: float = 0.1
    epochs: int = 12
    batch_size: int = 4
    lr: float = 1e-3  # ResNet18 and TRN (Adam)
    vgg_lr: float = 3e-4  # VGG16-BN sensor teachers (Adam)
    epochs_scale: float = 1.0
    seed: int = 0
    progress: bool = True

    @property
    def scaled_epochs(self) -> int:
        return max(1, int(round(self.epochs * self.epochs_scale)))


def synthesise(options: DemoOptions, root: Path) -> Path:
    """Write the synthetic tree unless a tree written with the same settings is there."""
    from pipeline.synthetic import write_dataset

    settings = {"subjects": options.subjects, "takes": options.takes, "classes": options.classes,
                "seed": options.seed, "frame_size": list(options.frame_size)}
    marker = root / SYNTH_MARKER
    if marker.exists() and json.loads(marker.read_text()) == json.loads(json.dumps(settings)):
        return root
    write_dataset("utd-mhad", root, subjects=options.subjects, takes=options.takes, classes=options.classes,
                  seed=options.seed, frame_size=options.frame_size)
    marker.write_text(json.dumps(settings))
    return root


def prepare_store(options: DemoOptions, root: Path, cache: Path) -> Path:
    """prepare() into cache/; a store prepared with other settings is rebuilt (it is synthetic)."""
    from pipeline.prepare import PrepareError, PrepareOptions, prepare

    prepare_options = PrepareOptions(dataset=DATASET, root=root, cache=cache, gaf_size=options.gaf_size,
                                     frame_size=options.frame_size, progress=options.progress)
    try:
        report = prepare(prepare_options)
    except PrepareError as error:
        print(f"rebuilding the demo store: {error}")
        report = prepare(dataclasses.replace(prepare_options, force=True))
    return Path(report.store_path)


def _head(run_dir: Path, stage: str, head: str | None = None) -> tuple[dict, dict]:
    """Final-epoch and best-on-validation test figures of one prediction head of a stage."""
    result = json.loads((run_dir / stage / RESULTS_FILE).read_text())
    head = head or next(iter(result["final"]["test"]))
    return result["final"]["test"][head], result["best"]["test"][head]


def run_demo(options: DemoOptions) -> str:
    """Run the demo; returns (and prints) the results table."""
    started = time.perf_counter()
    workdir = Path(options.workdir)
    spec = load_dataset(DATASET)
    root = synthesise(options, workdir / "cache" / "raw" / DATASET)
    store_path = prepare_store(options, root, workdir / "cache")
    prepared = time.perf_counter()
    runs = workdir / "runs"
    epochs = options.scaled_epochs
    common = dict(store=store_path, runs_dir=runs, backbone=options.backbone, gaf_size=options.gaf_size,
                  frame_size=options.crop, segments=options.segments, video_input=options.video_input,
                  dropout=options.dropout, teacher_semantic=options.teacher_semantic, gamma=options.gamma,
                  batch_size=options.batch_size,
                  epochs=epochs, lr=options.lr, lr_step=max(1, (2 * epochs) // 3), lr_gamma=0.1, optimizer="adam",
                  weight_decay=0.0, seed=options.seed,
                  device="cpu", overwrite=True, progress=options.progress, baseline=False)
    run_training(resolve_options(DATASET, "sensor2vision", stage="all", name="demo-sakdn", teacher_lr=options.vgg_lr,
                                 **common))
    run_training(resolve_options(DATASET, "vision2sensor", stage="all", name="demo-vskd", **common))
    run_training(resolve_options(DATASET, "vision2sensor", stage="student", kd="none", name="demo-sensor-baseline",
                                 **common))
    store = open_checked_store(store_path)
    classical = run_baseline(store, spec, spec.default_protocol, options.seed)
    trained = time.perf_counter()

    student_modality = store.modalities[0]
    video = f"video ({options.video_input})"
    rows = [
        ("sensor teachers (VGG16-BN + SPAMFM), fused", "acc+gyro GAF", _head(runs / "demo-sakdn", "teachers", "fused")),
        *[(f"sensor teacher {m} (inside the fused teachers)", f"{m} GAF", _head(runs / "demo-sakdn", "teachers", m))
          for m in store.modalities],
        ("video baseline (TRN, CE only) [= video teacher run]", video, _head(runs / "demo-vskd", "teachers")),
        ("SAKDN video student (TRN + ST + GSDM + SP)", video, _head(runs / "demo-sakdn", "student")),
        ("video teacher (TRN, CE)", video, _head(runs / "demo-vskd", "teachers")),
        ("sensor baseline (ResNet18 on GAF, CE only)", f"{student_modality} GAF",
         _head(runs / "demo-sensor-baseline", "student")),
        ("VSKD sensor student (ResNet18 + DASK)", f"{student_modality} GAF", _head(runs / "demo-vskd", "student")),
        *[(f"classical sensor baseline ({r.model})", f"{r.input} statistics", (r.scores.to_dict(), None))
          for r in classical if r.input in (student_modality, "fused")],
    ]
    test_classes = len(set(store.takes["label"].tolist()))
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'model':{width}s}  {'input':18s}  test acc  macro-F1  | @best-val: acc  macro-F1",
             f"{'-' * width}  {'-' * 18}  --------  --------  | --------------  --------"]
    for name, inp, (final, best) in rows:
        line = f"{name:{width}s}  {inp:18s}  {100 * final['accuracy']:7.1f}%  {100 * final['macro_f1']:7.1f}%  |"
        if best is not None:
            line += f"         {100 * best['accuracy']:5.1f}%    {100 * best['macro_f1']:5.1f}%"
        lines.append(line)
    lines.append(
        f"\n{DATASET}: {options.subjects} subjects x {options.takes} trials x {test_classes} classes, protocol "
        f"{spec.default_protocol} (trials 1-2 train, 3-4 test), chance {100 / test_classes:.1f}%.\n"
        "test acc / macro-F1: final epoch; @best-val: the epoch with the best accuracy on the validation subject."
    )
    lines.append(f"time: synthesise + prepare {prepared - started:.0f} s, training + baseline {trained - prepared:.0f} s, "
                 f"total {trained - started:.0f} s. Runs under {runs}/demo-*/ (results.md, curves.png, confusion.png).")
    table = "\n".join(lines)
    print("\n" + table, flush=True)
    return table
