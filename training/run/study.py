"""`study` (and `demo --seeds`): both methods' rows over seeds, with the paired gain of each student.

For every seed s (the same protocol and splits; s picks the validation subjects, the train-fraction
subset, the initialisation and the batches alike for every row of that seed) and every training
fraction F, a study trains

    sakdn.teachers_fused   SAKDN stage 1, VGG16-BN per sensor + SPAMFM (head "fused"; the per-sensor
                           heads are rows sakdn.teacher.<modality>)                      all takes
    vskd.video_teacher     TRN on video, CE only: the SAKDN student's network and recipe without its
                           teachers (so it also is sakdn.video_baseline at F = 1)           all takes
    sakdn.video_baseline   the same at F < 1                                                  F
    sakdn.student          TRN distilled from the sakdn teachers of seed s                    F
    vskd.sensor_baseline   ResNet18 on the student modality's GAF, CE only                    F
                           (with --set sensor_encoder=raw every sensor network is the ResNet-1D)
    vskd.student           ResNet18 distilled (DASK) from the video teacher of seed s         F
    classical.<input>      random forest on signal statistics (student modality and fused)    F
    s2s.<m>.baseline       sensor2sensor: ResNet18 on sensor m alone, CE only                 F
    s2s.<m>.student        the same distilled (DASK) from the sakdn teachers of seed s        F

plus, with --unlabelled, each student also distilled on the training takes outside its fraction F,
their labels withheld (sakdn.student+unlabelled@F, ...; train --distill-unlabelled; the same
baseline row), for each --ablate term, the student without it (sakdn.student-<term>, vskd.student-<term>,
s2s.<m>.student-<term>), and for each --variant NAME:KEY=VALUE,... the student trained with those
options on top of the study's (rows <key>.student-<NAME>): a recipe compared with the same teachers,
baselines and seeds.
Keys carry "@F" when F < 1. Each run lands in <runs>/<study>/<job>[-fF]-s<seed>/; a run whose
results are there with the same options is reused, so an interrupted study resumes where it stopped.

With a protocol family (--set protocol=loso: leave one subject out, pipeline.splits), every seed runs
on every fold (runs <job>[-fF]-<fold>-s<seed>), and each row holds one figure per (fold, seed),
fold-major: its mean +- std is over folds and seeds, the way to tune for subjects not trained on.

The gain of a student over its baseline is paired by seed (and fold): d_s = acc_student(s) -
acc_baseline(s), reported as mean(d) +- t_{0.975, n-1} std(d) / sqrt(n) (a 95% Student-t interval
over the n pairs).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from pipeline.config import RUNS_DIR, load_dataset
from pipeline.store import Store
from training.models.encoders import sensor_encoder
from training.options import KD_NONE, OptionsError, RunOptions
from training.recipes import RECIPES
from training.recipes.vskd import student_modality
from training.run.baseline import run_baseline
from training.run.config import CONFIG_FILE, resolve_options
from training.run.report import RESULTS_FILE, read_metrics
from training.run.train import open_checked_store, run_training

logger = logging.getLogger(__name__)

METHODS = ("sakdn", "vskd", "sensor2sensor")
UNLABELLED_TAG = "+unlabelled"  # the key suffix of a student distilled on the takes outside its fraction too
# the students' distillation terms a study can ablate (spamfm is a teachers' choice: train --ablate spamfm)
STUDENT_TERMS = tuple(dict.fromkeys(t for r in RECIPES.values() for t in r.ablatable if t != "spamfm"))


@dataclass
class StudyPlan:
    """What a study runs. `overrides` are resolve_options fields applied to every run (train's flags)."""

    dataset: str
    name: str = "study"
    seeds: tuple[int, ...] = (0, 1, 2)
    fractions: tuple[float, ...] = (1.0,)
    methods: tuple[str, ...] = ("sakdn", "vskd")
    ablate: tuple[str, ...] = ()  # terms a method's recipe may ablate: one extra student row each
    unlabelled: bool = False  # each student also with --distill-unlabelled (rows <key>+unlabelled)
    student_modalities: tuple[str, ...] = ()  # sensor2sensor students; empty: the student_modality option
    variants: dict[str, dict] = field(default_factory=dict)  # name -> options of one extra student row each
    runs_dir: Path = RUNS_DIR
    overrides: dict = field(default_factory=dict)
    # options of the runs at a fraction F < 1 on top of `overrides` (e.g. more epochs, where an epoch of
    # few labelled takes is a few steps); the baseline and its students alike
    fraction_overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Replicate:
    """One repetition of every row: a seed, on one fold of a protocol family (fold None: no family)."""

    seed: int
    fold: str | None = None

    @property
    def tag(self) -> str:
        """The run-name suffix: -s<seed>, or -<fold>-s<seed>."""
        return f"-{self.fold}-s{self.seed}" if self.fold else f"-s{self.seed}"


@dataclass
class Row:
    """One model's test figures over the seeds (and folds), final epoch."""

    key: str
    model: str
    input: str
    accuracy: list[float] = field(default_factory=list)
    macro_f1: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)  # final epoch, on the rows trained on (networks)
    alias_of: str | None = None  # a row shown under another key too (the demo's headline keys)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def paired_gain(student: Sequence[float], baseline: Sequence[float], level: float = 0.95) -> dict:
    """Per-seed differences, their mean and the Student-t interval (None with fewer than two seeds)."""
    d = np.asarray(student, dtype=float) - np.asarray(baseline, dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return {"difference": d.tolist(), "mean": mean, "std": None, "ci95": None}
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return {"difference": d.tolist(), "mean": mean, "std": float(d.std(ddof=1)), "ci95": [mean - half, mean + half]}


class Study:
    """Runs a StudyPlan (module docstring) and collects its rows."""

    def __init__(self, plan: StudyPlan, progress: Callable[[str], None] = logger.info):
        self.plan, self.say = plan, progress
        self.spec = load_dataset(plan.dataset)
        unknown = sorted(set(plan.methods) - set(METHODS)) + sorted(set(plan.ablate) - set(STUDENT_TERMS))
        if unknown or not plan.methods:
            raise OptionsError(f"study: unknown methods or ablation terms {unknown or list(plan.methods)}; methods are "
                               f"{', '.join(METHODS)}, terms {', '.join(STUDENT_TERMS)}")
        self.folds = self.spec.protocol_folds(plan.overrides.get("protocol") or self.spec.default_protocol)
        for variant, overrides in plan.variants.items():
            if not variant.replace("_", "").isalnum():
                raise OptionsError(f"study: variant name {variant!r} must be letters, digits and underscores")
            resolve_options(plan.dataset, "sensor2sensor",  # bad keys fail now
                            **{**plan.overrides, **overrides, "protocol": self.folds[0]})
        self.rows: dict[str, Row] = {}
        self.baseline_of: dict[str, str] = {}  # student row -> the row of its baseline
        self.classical_done: set[tuple[Replicate, float]] = set()  # whose classical rows are in
        self._store: Store | None = None

    def store(self, options: RunOptions) -> Store:
        """The store every run of the study reads, opened once."""
        if self._store is None:
            self._store = open_checked_store(options.store_path)
        return self._store

    def options(self, job: str, rep: Replicate, mode: str, **extra) -> RunOptions:
        scarce = self.plan.fraction_overrides if extra.get("student_train_fraction", 1.0) < 1.0 else {}
        fold = {"protocol": rep.fold} if rep.fold else {}
        return resolve_options(self.plan.dataset, mode, **{**self.plan.overrides, **scarce, **extra, **fold},
                               seed=rep.seed, name=f"{job}{rep.tag}", runs_dir=Path(self.plan.runs_dir) / self.plan.name,
                               overwrite=True, baseline=False)

    def train(self, options: RunOptions) -> Path:
        """run_training unless the run directory already holds its results with the same options (a field
        added since the run was trained counts with its default)."""
        stages = ("teachers", "student") if options.stage == "all" else (options.stage,)
        config = options.run_dir / CONFIG_FILE
        done = config.exists() and all((options.run_dir / s / RESULTS_FILE).exists() for s in stages)
        saved = RunOptions.from_dict(yaml.safe_load(config.read_text())["options"]).to_dict() if done else None
        if done and _what_is_trained(saved) == _what_is_trained(options.to_dict()):
            self.say(f"  reusing {options.run_dir}")
        else:
            self.say(f"  training {options.run_dir.name}")
            run_training(options)
        return options.run_dir

    def record(self, key: str, model: str, inp: str, run_dir: Path, stage: str, head: str | None = None,
               baseline: str | None = None) -> None:
        """Append the final-epoch test figures of one run to row `key` (a student names its baseline row),
        and its training accuracy unless `head` is a second head (which the training accuracy is not of)."""
        if baseline is not None:
            self.baseline_of[key] = baseline
        result = json.loads((run_dir / stage / RESULTS_FILE).read_text())["final"]["test"]
        first = next(iter(result))
        figures = result[head or first]
        row = self.rows.setdefault(key, Row(key, model, inp))
        row.accuracy.append(figures["accuracy"])
        row.macro_f1.append(figures["macro_f1"])
        records = read_metrics(run_dir / stage)
        if records and (head or first) == first:
            row.train_accuracy.append(records[-1]["train"]["accuracy"])

    def run(self) -> dict:
        started = time.perf_counter()
        methods = set(self.plan.methods)
        for rep in self.replicates():
            self.say(f"{rep.fold} seed {rep.seed}" if rep.fold else f"seed {rep.seed}")
            video_teacher = self.video_network(rep, 1.0) if methods & {"sakdn", "vskd"} else None
            teachers = self.sakdn_teachers(rep) if methods & {"sakdn", "sensor2sensor"} else None
            for fraction in self.plan.fractions:
                self.replicate_fraction(rep, fraction, teachers, video_teacher)
        rows = list(self.rows.values())
        folds = {"folds": list(self.folds)} if len(self.folds) > 1 else {}
        return {"dataset": self.plan.dataset, "seeds": list(self.plan.seeds), **folds,
                "fractions": list(self.plan.fractions), "rows": [r.to_dict() for r in rows], "gains": self.gains(),
                "seconds": time.perf_counter() - started}

    def replicates(self) -> list[Replicate]:
        """Every (fold, seed) of the study, fold-major: each row gets one figure from each."""
        if len(self.folds) == 1:
            return [Replicate(seed) for seed in self.plan.seeds]
        return [Replicate(seed, fold) for fold in self.folds for seed in self.plan.seeds]

    def sakdn_teachers(self, rep: Replicate) -> Path:
        options = self.options("sakdn-teachers", rep, "sensor2vision", stage="teachers")
        run_dir = self.train(options)
        modalities = options.modalities or tuple(self.store(options).modalities)
        network, inputs = sensor_network(options, teacher=True)
        fusion = " + SPAMFM" if "spamfm" not in options.ablate else ", logits averaged"
        fused = f"{network}{fusion}, fused" if len(modalities) > 1 else network
        self.record("sakdn.teachers_fused", f"SAKDN sensor teachers ({fused})", "+".join(modalities) + f" {inputs}",
                    run_dir, "teachers", "fused" if len(modalities) > 1 else modalities[0])
        for m in modalities if len(modalities) > 1 else ():
            self.record(f"sakdn.teacher.{m}", f"SAKDN sensor teacher {m} (inside the fused teachers)", f"{m} {inputs}",
                        run_dir, "teachers", m)
        return run_dir

    def video_network(self, rep: Replicate, fraction: float) -> Path:
        """TRN with CE only, trained as the SAKDN student is; at F = 1 also the VSKD video teacher."""
        suffix = fraction_suffix(fraction)
        options = self.options(f"video{_job_suffix(fraction)}", rep, "sensor2vision", stage="student", kd=KD_NONE,
                               student_train_fraction=fraction)
        run_dir = self.train(options)
        video = f"video ({options.data.video_input})"
        if "sakdn" in self.plan.methods and fraction in self.plan.fractions:
            self.record(f"sakdn.video_baseline{suffix}", "SAKDN video baseline (TRN, CE only)", video, run_dir, "student")
        if fraction == 1.0 and "vskd" in self.plan.methods:
            self.record("vskd.video_teacher", "VSKD video teacher (TRN, CE only)", video, run_dir, "student")
        return run_dir

    def replicate_fraction(self, rep: Replicate, fraction: float, teachers: Path | None, video_teacher: Path) -> None:
        suffix, job = fraction_suffix(fraction), _job_suffix(fraction)
        if "sakdn" in self.plan.methods:
            if fraction < 1.0:
                self.video_network(rep, fraction)
            for tag, named, extra in self.students("sensor2vision"):
                options = self.options(f"sakdn-student{tag}{job}", rep, "sensor2vision", stage="student",
                                       teachers=teachers, student_train_fraction=fraction, **extra)
                self.record(f"sakdn.student{tag}{suffix}", "SAKDN video student (TRN + ST + GSDM + SP)" + named,
                            f"video ({options.data.video_input})", self.train(options), "student",
                            baseline=f"sakdn.video_baseline{suffix}")
        if "vskd" in self.plan.methods:
            self.vskd_rows(rep, fraction, video_teacher / "student")
        if "sensor2sensor" in self.plan.methods:
            for modality in self.plan.student_modalities or (None,):
                self.sensor2sensor_rows(rep, fraction, teachers, modality)

    def students(self, mode: str) -> list[tuple[str, str, dict]]:
        """(key and job suffix, model-name suffix, options) of each student row: the method's own, with
        plan.unlabelled the same on paired takes without labels too, one per ablated term of `mode`, one
        per variant. A student ablates only its own row's term (the study's
        --set ablate=... is the teachers' choice)."""
        rows = [("", "", {"ablate": ()})]
        if self.plan.unlabelled:
            rows.append((UNLABELLED_TAG, " + paired takes without labels", {"ablate": (), "distill_unlabelled": True}))
        rows += [(f"-{t}", f" without {t}", {"ablate": (t,)}) for t in self.plan.ablate if t in RECIPES[mode].ablatable]
        rows += [(f"-{name}", f" ({name})", {"ablate": (), **overrides}) for name, overrides in self.plan.variants.items()]
        return rows

    def sensor2sensor_rows(self, rep: Replicate, fraction: float, teachers: Path, modality: str | None) -> None:
        """One sensor's baseline and its students distilled from the fused teachers of the same replicate."""
        suffix, job = fraction_suffix(fraction), _job_suffix(fraction)
        chosen = {"student_modality": modality} if modality else {}
        baseline = self.options(f"s2s-baseline-{modality or 'default'}{job}", rep, "sensor2sensor", stage="student",
                                kd=KD_NONE, student_train_fraction=fraction, **chosen)
        modality = student_modality(self.store(baseline), baseline)
        base_key = f"s2s.{modality}.baseline{suffix}"
        network, inputs = sensor_network(baseline, teacher=False)
        self.record(base_key, f"{modality} alone ({network}, CE only)", f"{modality} {inputs}", self.train(baseline),
                    "student")
        self.classical(rep, fraction, modality)
        for tag, named, extra in self.students("sensor2sensor"):
            options = self.options(f"s2s-student-{modality}{tag}{job}", rep, "sensor2sensor", stage="student",
                                   teachers=teachers, student_train_fraction=fraction, student_modality=modality,
                                   **extra)
            name = f"{modality} student of the fused teachers ({network} + DASK)" + named
            self.record(f"s2s.{modality}.student{tag}{suffix}", name, f"{modality} {inputs}", self.train(options),
                        "student", baseline=base_key)

    def vskd_rows(self, rep: Replicate, fraction: float, teacher_stage: Path) -> None:
        suffix, job = fraction_suffix(fraction), _job_suffix(fraction)
        baseline = self.options(f"sensor-baseline{job}", rep, "vision2sensor", stage="student", kd=KD_NONE,
                                student_train_fraction=fraction)
        modality = student_modality(self.store(baseline), baseline)
        network, inputs = sensor_network(baseline, teacher=False)
        self.record(f"vskd.sensor_baseline{suffix}", f"VSKD sensor baseline ({network}, CE only)",
                    f"{modality} {inputs}", self.train(baseline), "student")
        for tag, named, extra in self.students("vision2sensor"):
            options = self.options(f"vskd-student{tag}{job}", rep, "vision2sensor", stage="student",
                                   teachers=teacher_stage, student_train_fraction=fraction, **extra)
            self.record(f"vskd.student{tag}{suffix}", f"VSKD sensor student ({network} + DASK)" + named,
                        f"{modality} {inputs}", self.train(options), "student", baseline=f"vskd.sensor_baseline{suffix}")
        self.classical(rep, fraction, modality)

    def classical(self, rep: Replicate, fraction: float, modality: str) -> None:
        """Random-forest rows of every single modality and of all fused, once per replicate and fraction."""
        if (rep, fraction) in self.classical_done:
            return
        self.classical_done.add((rep, fraction))
        options = self.options("classical", rep, "vision2sensor", ablate=())  # store and protocol only
        store = self.store(options)
        protocol = options.data.protocol or self.spec.default_protocol
        shown = set(self.plan.student_modalities or (modality,)) | {"fused"}
        for result in run_baseline(store, self.spec, protocol, rep.seed, models=("random forest",), train_fraction=fraction):
            if result.input in shown:
                key = f"classical.{result.input}{fraction_suffix(fraction)}"
                row = self.rows.setdefault(key, Row(key, "classical baseline (random forest on statistics)",
                                                    f"{result.input} statistics"))
                row.accuracy.append(result.scores.accuracy)
                row.macro_f1.append(result.scores.macro_f1)

    def gains(self) -> list[dict]:
        """Paired gain of every student row (ablations and fractions included) over its baseline."""
        return [{"student": key, "baseline": base, **paired_gain(self.rows[key].accuracy, self.rows[base].accuracy)}
                for key, base in self.baseline_of.items()]


def sensor_network(options: RunOptions, teacher: bool) -> tuple[str, str]:
    """How the rows name a run's sensor network and its input: (network, input)."""
    encoder = sensor_encoder(options.sensor_encoder)
    return (encoder.teacher_name if teacher else encoder.student_name), encoder.input_name


def _what_is_trained(options: dict) -> dict:
    """A run's options without those that only change how it is shown."""
    return {k: v for k, v in options.items() if k not in ("progress", "overwrite", "resume", "tensorboard")}


def fraction_suffix(fraction: float) -> str:
    """The row-key suffix of a training fraction: '' at 1, '@0.25', '@0.333'."""
    return "" if fraction >= 1.0 else f"@{fraction:.3g}"


def _job_suffix(fraction: float) -> str:
    return "" if fraction >= 1.0 else f"-f{fraction:.3g}"


def format_study(result: dict) -> str:
    """The rows as mean +- std over seeds (and folds: test accuracy, macro-F1, and the networks' final
    training accuracy), then each student's paired gain with its 95% interval."""
    rows = [Row(**r) for r in result["rows"] if not r.get("alias_of")]
    keys, width, inputs = (max(len(getattr(r, f)) for r in rows) for f in ("key", "model", "input"))
    lines = [f"{'key':{keys}s}  {'model':{width}s}  {'input':{inputs}s}  {'test acc (mean +- std)':>22s}  "
             f"{'macro-F1':>22s}  {'train acc':>22s}"]
    for r in rows:
        lines.append(f"{r.key:{keys}s}  {r.model:{width}s}  {r.input:{inputs}s}  {_mean_std(r.accuracy):>22s}  "
                     f"{_mean_std(r.macro_f1):>22s}  {_mean_std(r.train_accuracy):>22s}")
    lines.append("")
    lines += [f"gain {g['student']} over {g['baseline']}: {format_gain(g, replicate_unit(result))}"
              for g in result["gains"]]
    return "\n".join(lines)


def study_markdown(result: dict, title: str | None = None) -> str:
    """A study's results page from its JSON alone (so `cli.py page` rewrites it without re-running): the
    command that made it, the rows, the paired gains; titled `<dataset>: study <name>` unless `title`."""
    folds = result.get("folds", [])
    over = f"{len(folds)} folds ({folds[0]} ... {folds[-1]}) x " if folds else ""
    made = f"; commit {result['commit'][:8]}, {result['date']}" if result.get("commit") else ""
    lines = [f"# {title or result['dataset'] + ': study ' + result['name']}", "",
             f"Written by the code from the study's JSON ({over}{len(result['seeds'])} seeds: "
             f"{', '.join(map(str, result['seeds']))}; {result['seconds'] / 60:.0f} min{made}). Test figures of the "
             f"final epoch, mean +- std over {'folds and ' if folds else ''}seeds; train acc: the final epoch's, on "
             "the rows trained on.", ""]
    if result.get("command"):
        lines += ["```bash", result["command"], "```", ""]
    lines += ["| key | model | input | test acc | macro-F1 | train acc |", "|---|---|---|---:|---:|---:|"]
    for row in (Row(**r) for r in result["rows"] if not r.get("alias_of")):
        lines.append(f"| `{row.key}` | {row.model} | {row.input} | {_mean_std(row.accuracy)} | "
                     f"{_mean_std(row.macro_f1)} | {_mean_std(row.train_accuracy)} |")
    lines += ["", "| student | over | paired gain |", "|---|---|---|"]
    lines += [f"| `{g['student']}` | `{g['baseline']}` | {format_gain(g, replicate_unit(result))} |"
              for g in result["gains"]]
    return "\n".join(lines) + "\n"


def provenance(command: str) -> dict:
    """What a study's JSON records of how it was made: the command line, the commit of this checkout
    (None outside a git checkout) and the date."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except OSError:
        commit = None
    return {"command": command, "commit": commit, "date": datetime.date.today().isoformat()}


def format_gain(gain: dict, unit: str = "seed") -> str:
    """'+3.0 points, 95% CI [+0.4, +5.6] (per seed +3.6, +1.8, +3.6)' of one paired_gain."""
    interval = (f"95% CI [{100 * gain['ci95'][0]:+.1f}, {100 * gain['ci95'][1]:+.1f}]" if gain["ci95"]
                else f"one {unit}: no interval")
    each = ", ".join(f"{100 * d:+.1f}" for d in gain["difference"])
    return f"{100 * gain['mean']:+.1f} points, {interval} (per {unit} {each})"


def replicate_unit(result: dict) -> str:
    """What one figure of a row stands for: a seed, or a (fold, seed) pair of a protocol family."""
    return "fold and seed" if result.get("folds") else "seed"


def _mean_std(values: Sequence[float]) -> str:
    if not len(values):
        return "-"
    v = 100 * np.asarray(values, dtype=float)
    return f"{v.mean():.1f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}% (n={len(v)})"


def run_study(plan: StudyPlan, json_path: Path | None = None, markdown: Path | None = None, command: str = "") -> dict:
    """Run the plan, log its table, write the JSON (rows, gains, seconds, its name and provenance) and
    its Markdown page (study_markdown) when asked; returns the JSON's dict."""
    result = {**Study(plan).run(), "name": plan.name, **provenance(command)}
    logger.info("\n" + format_study(result))
    for path, text in ((json_path, lambda: json.dumps(result, indent=1)), (markdown, lambda: study_markdown(result))):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text())
    return result