"""`demo`: both methods on a fresh CPU machine in under ten minutes, over seeds, ending in ONE table.

1. synthesise a small tree in the MMAct raw layout (pipeline.synthetic.write_dataset; skipped when
   the same settings already wrote it), 2. prepare it into cache/synthetic-mmact.zarr (reused when
   prepared with the same settings), 3. run the study of training/study.py over `seeds` seeds:
   SAKDN (fused sensor teachers -> video student, against the video network trained alone) and VSKD
   (video teacher -> phone-accelerometer student, against the phone network trained alone), plus the
   classical baseline; 4. print every row as mean +- std and each student's paired gain with its 95%
   interval, and write them as JSON when asked.

The dataset is designed so that each direction has a teacher that knows what its student cannot
learn alone, as in the papers. Half of the classes move the arms only (checking the time, drinking,
pointing, throwing, waving), half the legs or the whole body (crouching, jumping, kicking, running,
walking). The phone sits in the right trouser pocket: it barely sees the arm classes, so the VSKD
student (ResNet18 on the phone's GAF) is weak there and the video teacher is not. The SAKDN
teachers read the wrist watch and the phone together, which see both halves; the video student
learns from scratch on few clips. Labels are scarce: protocol `few-sessions` trains on session 1 of
each subject and class and tests on sessions 2-4 (210 test takes, one clip each).
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import CACHE_DIR, RUNS_DIR
from training.study import StudyPlan, run_study

logger = logging.getLogger(__name__)

DATASET = "synthetic-mmact"
PROTOCOL = "few-sessions"
SYNTH_MARKER = "demo-synth.json"
# checking_time, drinking, pointing, throwing, waving_hand | crouching, jumping, kicking, running, walking
CLASSES = (3, 6, 18, 29, 34, 5, 10, 11, 21, 33)


@dataclass
class DemoOptions:
    """Sizes picked so that every network learns within the time on two CPU cores (from scratch).

    Departures from the papers' defaults, all flags of `train`: small inputs (GAF 32 px, 56 px crops
    of 64x112 frames); the TRNs read "motion" input (each segment minus the clip's mean frame: from
    RGB a from-scratch TRN stays near chance on these small videos within the budget); TRN dropout
    0.5 (VSKD's value; at SAKDN's 0.8 the from-scratch TRN does not fit its 60 clips); no horizontal
    flip (it would turn a right-arm action into a left-arm one); Adam for every stage, as nothing is
    pretrained, and the LR drops 10x after two thirds of the epochs.
    """

    workdir: Path = Path(".")
    subjects: int = 7
    sessions: int = 4
    classes: tuple[int, ...] = CLASSES
    teachers: tuple[str, ...] = ("acc_watch", "acc_phone")
    student_modality: str = "acc_phone"
    frame_size: tuple[int, int] = (64, 112)  # rendered and stored (H, W)
    gaf_size: int = 32
    crop: int = 56
    backbone: str = "resnet18"
    video_input: str = "motion"
    dropout: float = 0.5
    epochs: int = 10
    batch_size: int = 6
    lr: float = 1e-3  # ResNet18 and TRN (Adam)
    teacher_lr: float = 3e-4  # VGG16-BN sensor teachers (Adam)
    epochs_scale: float = 1.0
    seeds: int = 3
    ablate: tuple[str, ...] = ()  # distillation terms: one extra student row each, without that term
    seed: int = 0  # of the synthetic tree
    progress: bool = True

    @property
    def scaled_epochs(self) -> int:
        return max(1, int(round(self.epochs * self.epochs_scale)))

    def overrides(self, store: Path) -> dict:
        """The train options every run of the demo shares."""
        epochs = self.scaled_epochs
        return dict(store=store, protocol=PROTOCOL, backbone=self.backbone, gaf_size=self.gaf_size,
                    crop_size=self.crop, video_input=self.video_input, dropout=self.dropout, flip=False,
                    modalities=self.teachers,
                    student_modality=self.student_modality, batch_size=self.batch_size, epochs=epochs,
                    lr=self.lr, lr_step=max(1, (2 * epochs) // 3), lr_gamma=0.1, optimizer="adam",
                    weight_decay=0.0, teacher_lr=self.teacher_lr, test_every=0, device="cpu",
                    progress=self.progress)


def synthesise(options: DemoOptions, root: Path) -> Path:
    """Write the synthetic tree unless a tree written with the same settings is there."""
    from pipeline.synthetic import write_dataset

    settings = {"subjects": options.subjects, "sessions": options.sessions, "classes": list(options.classes),
                "seed": options.seed, "frame_size": list(options.frame_size), "cameras": [1]}
    marker = root / SYNTH_MARKER
    if marker.exists() and json.loads(marker.read_text()) == settings:
        return root
    write_dataset("mmact", root, subjects=options.subjects, takes=options.sessions, classes=options.classes,
                  seed=options.seed, frame_size=options.frame_size, cameras=(1,))
    marker.write_text(json.dumps(settings))
    return root


def prepare_store(options: DemoOptions, root: Path, cache: Path) -> Path:
    """prepare() into cache/; a store prepared with other settings is rebuilt (it is synthetic)."""
    from pipeline.prepare import PrepareError, PrepareOptions, prepare

    prepare_options = PrepareOptions(dataset=DATASET, root=root, cache=cache, gaf_size=options.gaf_size,
                                     frame_size=options.frame_size, progress=options.progress,
                                     modalities=(*options.teachers, "video"))
    try:
        report = prepare(prepare_options)
    except PrepareError as error:
        logger.warning(f"rebuilding the demo store: {error}")
        report = prepare(dataclasses.replace(prepare_options, force=True))
    return Path(report.store_path)


def run_demo(options: DemoOptions, json_path: Path | None = None) -> dict:
    """Run the demo; logs the table and returns the study's result (rows, gains, seconds)."""
    workdir = Path(options.workdir)
    root = synthesise(options, workdir / CACHE_DIR / "raw" / DATASET)
    store_path = prepare_store(options, root, workdir / CACHE_DIR)
    plan = StudyPlan(dataset=DATASET, name="demo", seeds=tuple(range(options.seeds)), runs_dir=workdir / RUNS_DIR,
                     ablate=options.ablate, overrides=options.overrides(store_path))
    result = run_study(plan, json_path)
    logger.info(f"\n{DATASET}: {options.subjects} subjects x {len(options.classes)} classes x {options.sessions} "
                f"sessions, protocol {PROTOCOL} (session 1 train, sessions 2-4 test), chance "
                f"{100 / len(options.classes):.1f}%; test figures of the final epoch; {len(plan.seeds)} seeds. "
                f"Runs under {plan.runs_dir / plan.name}/.")
    return result
