"""`demo`: both methods on a fresh CPU machine, over seeds, ending in ONE table.

1. synthesise a small tree in the MMAct raw layout (pipeline.synthetic.write_dataset; skipped when
   the same settings already wrote it), 2. prepare it into cache/synthetic-mmact.zarr (reused when
   prepared with the same settings), 3. run the study of training/run/study.py over `seeds` seeds:
   SAKDN (fused sensor teachers -> video student, against the video network trained alone) and VSKD
   (video teacher -> phone-accelerometer student, against the phone network trained alone), plus the
   classical baseline; 4. print every row as mean +- std and each student's paired gain with its 95%
   interval, and write them as JSON (and a Markdown page) when asked.

The protocol is the realistic one of cross-modal distillation: the teacher modality has a labelled
corpus, the student modality many paired recordings and few labels. `three-sessions` trains on
sessions 1-3 (one subject held out for validation) and tests on sessions 4-5. Teachers train on
every training label; each student and its CE-only baseline see one labelled take per class
(`fraction` 0.05 of the 18 per class). The HEADLINE students also distil on the other training
takes, their labels withheld (train --distill-unlabelled: rows <key>+unlabelled@F); the papers'
regime, distillation on the labelled takes only, is kept as rows <key>@F.

The classes are chosen so that each student is limited by its labels, not by its input, and its
teacher knows more: every class moves the legs or the whole body (carrying, crouching, falling,
jumping, kicking, picking up, running, sitting down, standing up, walking), so the phone in the
right trouser pocket senses each of them (with every label it scores about 100%), but one label per
class leaves it near 75%; the video teacher sees all of them (above 90%). The SAKDN teachers read the
wrist watch and the phone together. A class the phone cannot sense at all (an arm-only motion)
would cap the phone whatever it is taught: with five arm-only classes the phone stayed near 60% at
every fraction, and neither distilled student could gain.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import CACHE_DIR, RUNS_DIR
from training.run.study import UNLABELLED_TAG, StudyPlan, format_gain, fraction_suffix, paired_gain, run_study

logger = logging.getLogger(__name__)

DATASET = "synthetic-mmact"
PROTOCOL = "three-sessions"
SYNTH_MARKER = "demo-synth.json"
# carrying_light, crouching, fall, jumping, kicking, picking_up, running, sitting, standing_up, walking
CLASSES = (2, 5, 9, 10, 11, 15, 21, 23, 26, 33)


@dataclass
class DemoOptions:
    """Sizes picked so that every network fits its training data within the time on two CPU cores.

    Departures from the papers' defaults, all flags of `train`: small inputs (64x64 frames, 56 px
    crops at scales 1 and 0.875: smaller crops lose the thin limbs); a small from-scratch CNN as the
    TRN backbone (`smallcnn`; a ResNet18 does not fit 64-px clips within the budget), reading
    "motion" input (each segment minus the clip's mean frame), dropout 0; the sensor networks read
    the raw stream (`--sensor-encoder raw`, the ResNet-1D; VGG16-BN teachers on GAF cost most of the
    budget); no horizontal flip (it would turn a right-arm action into a left-arm one); Adam for
    every stage, as nothing is pretrained, and the LR drops 10x after two thirds of the epochs; the
    soft target at weight 1 and temperature 1, the teacher's own probabilities: on the takes without
    labels they stand in for the labels, and Table I's 0.1 at T = 4 carried a fifth of the gain
    (docs/results/demo-papers-targets.md).
    """

    workdir: Path = Path(".")
    subjects: int = 7
    sessions: int = 5
    classes: tuple[int, ...] = CLASSES
    teachers: tuple[str, ...] = ("acc_watch", "acc_phone")
    student_modality: str = "acc_phone"
    frame_size: tuple[int, int] = (64, 64)  # rendered and stored (H, W)
    gaf_size: int = 32
    crop: int = 56
    backbone: str = "smallcnn"  # training.models.smallcnn
    sensor_encoder: str = "raw"
    video_input: str = "motion"
    dropout: float = 0.0
    scales: tuple[float, ...] = (1.0, 0.875)  # train crops: smaller ones often lose the thin person
    epochs: int = 20  # networks trained on every label (the video teacher)
    teacher_epochs: int = 6  # the sensor teachers (they fit their training takes within 4)
    fraction: float = 0.05  # the students' labelled share: one take per class (the teachers see all)
    fraction_epochs: int = 100  # students and their baselines: an epoch of 10 labelled takes is 1 step of 6
    val_every: int = 10  # students and baselines: scoring val after each 1-step epoch cost twice the training
    soft_target: float = 1.0  # the soft target's weight, --weight st (Table I's alpha: 0.1)
    temperature: float = 1.0  # of the soft targets (the papers: 4)
    batch_size: int = 6
    lr: float = 1e-3  # every network (Adam)
    teacher_lr: float = 1e-3
    epochs_scale: float = 1.0
    seeds: int = 3
    ablate: tuple[str, ...] = ()  # distillation terms: one extra student row each, without that term
    variants: dict[str, dict] = dataclasses.field(default_factory=dict)  # name -> train options: a student row each
    seed: int = 0  # of the synthetic tree
    threads: int | None = None  # torch CPU threads; None: torch's default
    progress: bool = True

    def scaled(self, epochs: int) -> int:
        return max(1, int(round(epochs * self.epochs_scale)))

    @staticmethod
    def lr_step(epochs: int) -> int:
        """The LR drops 10x after two thirds of a schedule."""
        return max(1, (2 * epochs) // 3)

    def fraction_overrides(self) -> dict:
        """The train options of the runs at `fraction` (students and their baselines)."""
        epochs = self.scaled(self.fraction_epochs)
        return dict(student_epochs=epochs, student_lr_step=self.lr_step(epochs), val_every=self.val_every)

    def overrides(self, store: Path) -> dict:
        """The train options every run of the demo shares."""
        epochs = self.scaled(self.epochs)
        teacher_epochs = self.scaled(self.teacher_epochs)
        return dict(store=store, protocol=PROTOCOL, backbone=self.backbone, sensor_encoder=self.sensor_encoder,
                    gaf_size=self.gaf_size, crop_size=self.crop, video_input=self.video_input, dropout=self.dropout,
                    flip=False, scales=self.scales, modalities=self.teachers, student_modality=self.student_modality,
                    batch_size=self.batch_size, epochs=epochs, lr=self.lr, lr_step=self.lr_step(epochs),
                    teacher_epochs=teacher_epochs, teacher_lr=self.teacher_lr,
                    teacher_lr_step=self.lr_step(teacher_epochs), lr_gamma=0.1, optimizer="adam",
                    weight_decay=0.0, weights={"st": self.soft_target}, temperature=self.temperature, test_every=0,
                    device="cpu", threads=self.threads, progress=self.progress)


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


def headline_keys(fraction: float) -> dict[str, str]:
    """The demo's headline rows (the keys a reader of its JSON looks up) -> the study rows they are."""
    at = fraction_suffix(fraction)
    return {"sakdn.teachers_fused": "sakdn.teachers_fused", "sakdn.video_baseline": f"sakdn.video_baseline{at}",
            "sakdn.student": f"sakdn.student{UNLABELLED_TAG}{at}", "vskd.video_teacher": "vskd.video_teacher",
            "vskd.sensor_baseline": f"vskd.sensor_baseline{at}", "vskd.student": f"vskd.student{UNLABELLED_TAG}{at}",
            "classical.fused": f"classical.fused{at}"}


def add_headline(result: dict, fraction: float) -> dict:
    """The headline rows under their plain keys (each a copy naming its study row in `alias_of`) and
    `headline`: the two students' paired gains over their baselines."""
    rows = {row["key"]: row for row in result["rows"]}
    keys = headline_keys(fraction)
    aliases = {alias: key for alias, key in keys.items() if alias != key and key in rows}
    result["rows"] += [{**rows[key], "key": alias, "alias_of": key} for alias, key in aliases.items()]
    result["headline"] = [{"student": f"{method}.student", "baseline": baseline,
                           **paired_gain(rows[keys[f"{method}.student"]]["accuracy"], rows[keys[baseline]]["accuracy"])}
                          for method, baseline in (("sakdn", "sakdn.video_baseline"), ("vskd", "vskd.sensor_baseline"))
                          if keys[f"{method}.student"] in rows]
    return result


def run_demo(options: DemoOptions, json_path: Path | None = None, markdown: Path | None = None,
             command: str = "python cli.py demo") -> dict:
    """Run the demo; logs the table and returns the study's result (rows, gains, headline, seconds);
    `command` heads the Markdown page."""
    workdir = Path(options.workdir)
    started = time.perf_counter()
    root = synthesise(options, workdir / CACHE_DIR / "raw" / DATASET)
    store_path = prepare_store(options, root, workdir / CACHE_DIR)
    plan = StudyPlan(dataset=DATASET, name="demo", seeds=tuple(range(options.seeds)), runs_dir=workdir / RUNS_DIR,
                     fractions=(options.fraction,), unlabelled=True, ablate=options.ablate, variants=options.variants,
                     overrides=options.overrides(store_path), fraction_overrides=options.fraction_overrides())
    result = add_headline(run_study(plan, markdown=markdown, command=command), options.fraction)
    result["seconds_total"] = time.perf_counter() - started
    for gain in result["headline"]:
        logger.info(f"headline: {gain['student']} over {gain['baseline']}: {format_gain(gain)}")
    logger.info(f"\n{DATASET}: {options.subjects} subjects x {len(options.classes)} classes x {options.sessions} "
                f"sessions, protocol {PROTOCOL} (sessions 1-3 train, 4-5 test), students' labelled share "
                f"{options.fraction:.3g}, chance {100 / len(options.classes):.1f}%; test figures of the final epoch; "
                f"{len(plan.seeds)} seeds; {result['seconds_total'] / 60:.1f} min in all. "
                f"Runs under {plan.runs_dir / plan.name}/.")
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=1))
    return result
