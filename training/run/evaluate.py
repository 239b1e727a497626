"""`evaluate`: score a run's checkpoints on the test split of a protocol, deterministically.

Eval mode throughout: the centre candidate frame of each segment, the centre crop, TRN's fixed
relation tuples, no dropout; the same checkpoint and store give the same figures every time.
Optionally a video stage is scored on several deterministic views (TSN / mmaction2 multi-view
test, training.data.loaders.Views): test_clips candidates per segment x test_crops crops, its logits
averaged over the views; stages without video score their one input and say that views do not apply.
Writes <run>/evaluation-<protocol>-<checkpoint>.json (with views: ...-<clips>x<crops>views.json,
each stage's entry naming its views) and returns the evaluations.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import DatasetSpec, load_dataset
from pipeline.store import Store
from training.data.loaders import SplitData, Views, build_data
from training.engine.metrics import Scores
from training.engine.trainer import BEST, LAST, CheckpointError, Context, Stage, load_checkpoint, make_context, predict
from training.models.archs import Arch, arch_from_dict
from training.models.normalize import input_normalizer
from training.options import STAGE_ORDER, OptionsError, RunOptions
from training.recipes.classifiers import classifier_stage
from training.run.config import read_config
from training.run.train import open_checked_store


@dataclass
class StageEvaluation:
    stage: str
    checkpoint: Path
    epoch: int
    scores: dict[str, Scores]  # head -> figures
    views: Views = Views()  # the views scored (Views() for a stage without video)
    note: str = ""  # one line shown before the stage's figures (views asked of a stage without video)


def evaluate_run(run_dir: Path, protocol: str | None = None, stage: str | None = None, checkpoint: str = "best",
                 device: str = "cpu", batch_size: int = 32, save_predictions: Path | None = None,
                 test_clips: int = 1, test_crops: int = 1) -> list[StageEvaluation]:
    """Scores of each trained stage of run_dir (or only `stage`) on the test split of `protocol`.

    save_predictions: an .npz with, per stage, the scored store rows (`<stage>/rows`, clip rows for a
    video stage, take rows otherwise), their take keys and labels, and each head's logits
    (`<stage>/logits/<head>`, (N, C) float32; with views, the mean over a row's views).
    test_clips / test_crops: the views of a video stage (training.data.loaders.Views; DataError when the
    store holds fewer candidates per segment than test_clips); 1 and 1 is the single centre view.
    """
    views = Views(test_clips, test_crops)
    run_dir = Path(run_dir)
    options = RunOptions.from_dict(read_config(run_dir)["options"])
    spec = load_dataset(options.dataset)
    protocol = protocol or options.data.protocol or spec.default_protocol
    spec.check_protocol(protocol)
    store = open_checked_store(options.store_path)
    ctx = make_context(device, amp=False, channels_last=False, progress=False)
    names = [stage] if stage else [s for s in STAGE_ORDER if (run_dir / s).is_dir()]
    evaluations, arrays = [], {}
    for name in names:
        path = _checkpoint(run_dir / name, checkpoint)
        saved = load_checkpoint(path)
        evaluator = classifier_stage(_saved_arch(saved, path))
        evaluator.net.load_state_dict({k[len("net."):]: v for k, v in saved["model"].items() if k.startswith("net.")})
        evaluator.to(ctx.device)
        stage_views = views if evaluator.video_arch else Views()
        data = _test_data(store, spec, options, evaluator, protocol, ctx, batch_size, stage_views)
        try:
            predictions = predict(evaluator, data.test, ctx)
        finally:
            data.close()
        note = "" if stage_views == views else f"{name}: no video, so {views.describe()} views do not apply (one view)"
        evaluations.append(StageEvaluation(name, path, int(saved["epoch"]), predictions.scores(spec.num_classes),
                                           stage_views, note))
        takes = store.clips["take"][predictions.rows] if evaluator.unit == "clips" else predictions.rows
        arrays.update({f"{name}/rows": predictions.rows, f"{name}/take_keys": store.takes["key"][takes].astype(str),
                       f"{name}/labels": predictions.labels,
                       **{f"{name}/logits/{h}": z for h, z in predictions.logits.items()}})
    if save_predictions is not None:
        np.savez_compressed(save_predictions, **arrays)
    _write_summary(run_dir, protocol, checkpoint, views, evaluations)
    return evaluations


def _saved_arch(saved: dict, path: Path) -> Arch:
    """The network record of a loaded checkpoint, or a one-line CheckpointError naming the file."""
    try:
        return arch_from_dict(saved.get("arch") or {})
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None


def _test_data(store: Store, spec: DatasetSpec, options: RunOptions, evaluator: Stage, protocol: str, ctx: Context,
               batch_size: int, views: Views) -> SplitData:
    """The test split of `protocol` shaped as `evaluator` reads it (segments, crop size, input kind, GAF
    size or stream grid of its network), scored on `views`."""
    video = evaluator.video_arch
    data_options = dataclasses.replace(
        options.data, protocol=protocol, segments=video.segments if video else None,
        crop_size=video.crop_size if video else options.data.crop_size,
        video_input=video.video_input if video else options.data.video_input, gaf_size=evaluator.gaf_size,
        stream_seconds=evaluator.stream_seconds,
    )
    normalize = input_normalizer(video.backbone).to(ctx.device) if video else None
    return build_data(store, spec, data_options, evaluator.unit, evaluator.eval_needs, evaluator.eval_needs,
                      batch_size, ctx.device, normalize, seed=options.seed, splits=("test",), views=views)


def _write_summary(run_dir: Path, protocol: str, checkpoint: str, views: Views,
                   evaluations: list[StageEvaluation]) -> None:
    """<run>/evaluation-<protocol>-<checkpoint>[-<clips>x<crops>views].json: per stage its checkpoint, epoch,
    figures per head, and with views asked the views each stage scored (a single view keeps today's file)."""
    suffix = "" if views == Views() else f"-{views.clips}x{views.crops}views"
    summary = {}
    for e in evaluations:
        summary[e.stage] = {"checkpoint": str(e.checkpoint), "epoch": e.epoch,
                            "heads": {h: s.to_dict() for h, s in e.scores.items()}}
        if views != Views():
            summary[e.stage]["views"] = {"clips": e.views.clips, "crops": e.views.crops}
    (run_dir / f"evaluation-{protocol}-{checkpoint}{suffix}.json").write_text(json.dumps(summary, indent=1))


def _checkpoint(stage_dir: Path, which: str) -> Path:
    path = stage_dir / (BEST if which == "best" else LAST)
    if which == "best" and not path.exists():
        path = stage_dir / LAST
    if not path.exists():
        raise OptionsError(f"{stage_dir}: no {which} checkpoint (has this stage been trained?)")
    return path


def format_evaluation(evaluations: list[StageEvaluation], class_names: list[str]) -> str:
    """Top-1, macro-F1, per-class accuracy and confusion matrix of every head, as text; a stage scored on
    several views names them in its heads' lines ("views 3 clips x 3 crops")."""
    lines = []
    for e in evaluations:
        if e.note:
            lines.append(e.note)
        views = "" if e.views == Views() else f", views {e.views.describe()}"
        for head, s in e.scores.items():
            lines.append(f"{e.stage} [{head}] {e.checkpoint.name} (epoch {e.epoch}): top-1 {100 * s.accuracy:.2f}%  "
                         f"top-5 {100 * s.top5:.2f}%  macro-F1 {100 * s.macro_f1:.2f}%  "
                         f"({s.count} test samples{views})")
            present = np.flatnonzero(s.confusion.sum(axis=1) + s.confusion.sum(axis=0))
            for c in present:
                acc = s.per_class_accuracy[c]
                lines.append(f"    {c:3d} {class_names[c][:40]:40s} {'-' if np.isnan(acc) else f'{100 * acc:6.1f}%'}")
            lines.append("    confusion (rows true, columns predicted; classes " + ",".join(map(str, present)) + "):")
            for c in present:
                lines.append("    " + " ".join(f"{v:4d}" for v in s.confusion[c, present]))
    return "\n".join(lines)
