"""Why SPAMFM-fused sensor teachers lose on unseen subjects, and where to fuse instead.

    python bench/spamfm_fusion.py --store STORE --work DIR [--folds loso-1,loso-4] [--stages all,fc7]
                                  [--singles LOSO.json] --json FILE [--page PAGE.md] [--threads 1]
    python bench/spamfm_fusion.py --json FILE --page PAGE.md   (the page again from the JSON alone)

Trains (or reuses, when DIR holds the finished run) the raw-signal teachers of every sensor of a
Berkeley-MHAD store, SPAMFM-fused after every stage (`all`) or after the named ones (`fc7`), with
the dataset's `cpu` preset on each fold, and scores the last checkpoint's fused head in eval mode:

    running          the default eval descriptor (training.models.fusion: running mean of G_k S_k)
    sample           the sample's own descriptor (--spamfm-eval sample)
    test_batch       G_k S_k over the whole test split as one batch, as the published code evaluates
                     (each sample then sees the others: a diagnosis, not a figure to report)
    train_heads      the per-sensor heads on the fold's TRAINING takes in eval mode (lowest and
                     highest): what the networks fit, scored the way they are tested

--singles takes a bench/real_sensors.py JSON of the same folds: the best single raw_encoder sensor
of each fold is printed beside the fused figures. Writes {"jobs", "rows": [{"fold", "stages",
"score", "head", "accuracy"}]} and the page from it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import load_dataset  # noqa: E402
from training.data.loaders import build_data  # noqa: E402
from training.engine.trainer import load_checkpoint, make_context, predict  # noqa: E402
from training.models.archs import arch_from_dict  # noqa: E402
from training.models.fusion import SPAMFM, batch_descriptors  # noqa: E402
from training.recipes.classifiers import classifier_stage  # noqa: E402
from training.run.config import resolve_options  # noqa: E402
from training.run.train import open_checked_store, run_training  # noqa: E402

DATASET, PRESET, EVERY_STAGE = "berkeley-mhad", "cpu", "all"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_sensors import provenance  # noqa: E402


def trained_teachers(store: Path, work: Path, fold: str, stages: str, threads: int | None):
    """The fused raw teachers of `fold` fused after `stages` (trained unless work holds them): (stage, options)."""
    options = resolve_options(DATASET, "sensor2vision", preset=PRESET, store=store, runs_dir=work, protocol=fold,
                              name=f"spamfm-{stages}-{fold}", stage="teachers", sensor_encoder="raw",
                              spamfm_stages=() if stages == EVERY_STAGE else tuple(stages.split("+")), device="cpu",
                              threads=threads, progress=False, baseline=False, test_every=0, overwrite=True)
    if not (options.run_dir / "teachers" / "results.json").exists():
        run_training(options)
    saved = load_checkpoint(options.run_dir / "teachers" / "last.pt")
    stage = classifier_stage(arch_from_dict(saved["arch"]))
    stage.net.load_state_dict({k[len("net."):]: v for k, v in saved["model"].items() if k.startswith("net.")})
    return stage, options


def scores(stage, options, store_path: Path) -> dict[str, dict[str, float]]:
    """{score: {head: accuracy}} of the module docstring."""
    spec, store = load_dataset(DATASET), open_checked_store(store_path)
    data_options = dataclasses.replace(options.data, gaf_size=stage.gaf_size, stream_seconds=stage.stream_seconds)

    def accuracy(split: str, batch_size: int) -> dict[str, float]:
        data = build_data(store, spec, data_options, stage.unit, stage.eval_needs, stage.eval_needs, batch_size,
                          torch.device("cpu"), None, seed=0, splits=(split,))
        loader = getattr(data, split)
        loader.train = False  # the training takes as evaluated: no augmentation
        ctx = make_context("cpu", amp=False, channels_last=False, progress=False)
        return {h: s.accuracy for h, s in predict(stage, loader, ctx).scores(spec.num_classes).items()}

    fusions = [m for m in stage.modules() if isinstance(m, SPAMFM)]
    out = {"running": accuracy("test", 64), "train_heads": accuracy("train", 64)}
    for m in fusions:
        m.eval_descriptor = "sample"
    out["sample"] = accuracy("test", 64)
    for m in fusions:  # G_k S_k over the batch in eval mode too (the published evaluation), no running update
        m.modality_descriptors = lambda features: batch_descriptors(features)[0]
    out["test_batch"] = accuracy("test", 100_000)
    return out


def best_singles(path: Path | None) -> dict[str, float]:
    """fold -> the best single-sensor raw_encoder accuracy of a bench/real_sensors.py JSON."""
    if path is None:
        return {}
    best: dict[str, float] = {}
    for r in json.loads(path.read_text())["rows"]:
        if r["network"] == "raw_encoder" and r["sensor"] != "fused":
            best[r["fold"]] = max(best.get(r["fold"], 0.0), r["accuracy"])
    return best


def page(report: dict, json_name: str) -> str:
    rows, singles = report["rows"], report.get("best_single", {})
    get = {(r["fold"], r["stages"], r["score"], r["head"]): r["accuracy"] for r in rows}
    lines = ["# SPAMFM on unseen subjects: where to fuse (Berkeley-MHAD, raw-signal teachers of six sensors)", "",
             f"Written by `bench/spamfm_fusion.py --page` from `{json_name}`; jobs: "
             + "; ".join(f"`{j['command']}` (commit {str(j['commit'])[:8]}, {j['date']})" for j in report["jobs"]),
             "", "Accuracy in % on the fold's test subject (fused head), one seed; `train heads`: the per-sensor "
             "heads on the fold's own training takes in eval mode, lowest - highest.", "",
             "| fold | fused after | running (default) | sample | test split as one batch | train heads | "
             "best single sensor |", "|---|---|---:|---:|---:|---:|---:|"]
    for fold, stages in dict.fromkeys((r["fold"], r["stages"]) for r in rows):
        heads = [a for (f, s, score, h), a in get.items() if (f, s, score) == (fold, stages, "train_heads")
                 and h != "fused"]
        cells = [f"{100 * get[(fold, stages, k, 'fused')]:.1f}" for k in ("running", "sample", "test_batch")]
        single = f"{100 * singles[fold]:.1f}" if fold in singles else "-"
        lines.append(f"| {fold} | {stages} | " + " | ".join(cells) +
                     f" | {100 * min(heads):.0f} - {100 * max(heads):.0f} | {single} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a prepared Berkeley-MHAD store (six sensors)")
    parser.add_argument("--work", type=Path, help="runs go (or are found) here")
    parser.add_argument("--folds", default="loso-1,loso-4")
    parser.add_argument("--stages", default=f"{EVERY_STAGE},fc7", help="comma list: all, or stages joined by +")
    parser.add_argument("--singles", type=Path, default=None, help="bench/real_sensors.py JSON of the same folds")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--page", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.store is None and args.work is None and args.page:
        args.page.write_text(page(json.loads(args.json.read_text()), args.json.name))
        return
    if args.store is None or args.work is None:
        parser.error("--store and --work are needed to train (or --json and --page alone to rewrite the page)")
    start, rows = time.perf_counter(), []
    for fold in args.folds.split(","):
        for stages in args.stages.split(","):
            stage, options = trained_teachers(args.store, args.work, fold, stages, args.threads)
            for score, heads in scores(stage, options, args.store).items():
                rows += [{"fold": fold, "stages": stages, "score": score, "head": h, "accuracy": a}
                         for h, a in heads.items()]
            print(f"{fold} fused after {stages}: " + ", ".join(
                f"{r['score']} {100 * r['accuracy']:.1f}" for r in rows
                if (r["fold"], r["stages"], r["head"]) == (fold, stages, "fused")), flush=True)
    report = {"jobs": [provenance(time.perf_counter() - start)], "best_single": best_singles(args.singles),
              "rows": rows}
    args.json.write_text(json.dumps(report, indent=1))
    if args.page:
        args.page.write_text(page(report, args.json.name))
    print(page(report, args.json.name))


if __name__ == "__main__":
    main()
