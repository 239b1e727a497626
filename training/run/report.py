"""Run reports: training curves and confusion matrices as PNG, results as one Markdown table.

Every results table carries the classical baseline's rows (training/run/baseline.py) beside the
networks, and the chance level 1/C, so a network's score is always read against both.

The plots are drawn on bare matplotlib Figures (no pyplot), which render headless without
switching matplotlib's global backend: a program or notebook that imports this module keeps its own.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.engine.trainer import METRICS_FILE, RESULTS_FILE

logger = logging.getLogger(__name__)

CURVES_PNG, CONFUSION_PNG, RESULTS_MD, RESULTS_JSON = "curves.png", "confusion.png", "results.md", "results.json"


def read_metrics(stage_dir: Path) -> list[dict]:
    path = Path(stage_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(records: Sequence[dict], png: Path, title: str) -> Path:
    """Left: each weighted training loss term per epoch (log scale); middle: each term's gradient norm
    on the trained parameters relative to cross-entropy's (log scale); right: accuracy per split."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 4))
    ax_loss, ax_grad, ax_acc = fig.subplots(1, 3)
    _plot_terms(ax_loss, records)
    _plot_gradient_ratios(ax_grad, records)
    _plot_accuracy(ax_acc, records)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return Path(png)


def _plot_terms(ax, records: Sequence[dict]) -> None:
    epochs = [r["epoch"] for r in records]
    for term in [k for k in records[0]["train"] if k != "accuracy"] if records else []:
        values = [max(r["train"].get(term, np.nan), 1e-8) for r in records]
        ax.plot(epochs, values, label=term, linewidth=2.0 if term == "loss" else 1.0)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (weighted terms)")
    ax.legend(fontsize=8)


def _plot_gradient_ratios(ax, records: Sequence[dict]) -> None:
    probed = [(r["epoch"], r["grad_ratio"]) for r in records if r.get("grad_ratio")]  # epochs with a probe
    terms = list(dict.fromkeys(k for _, ratios in probed for k in ratios if k != "ce"))
    for term in terms:
        points = [(epoch, max(ratios.get(term) or np.nan, 1e-8)) for epoch, ratios in probed]
        ax.plot(*zip(*points), label=term, marker="." if len(points) < len(records) else None)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm / CE's (first batch)")
    if terms:
        ax.legend(fontsize=8)


def _plot_accuracy(ax, records: Sequence[dict]) -> None:
    ax.plot([r["epoch"] for r in records], [r["train"]["accuracy"] for r in records], label="train")
    for split in ("val", "test"):
        scored = [r for r in records if split in r]
        if scored:
            ax.plot([r["epoch"] for r in scored], [r[split]["accuracy"] for r in scored], label=split, marker=".")
            ax.plot([r["epoch"] for r in scored], [r[split]["macro_f1"] for r in scored], linestyle="--",
                    label=f"{split} macro-F1")
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], png: Path, title: str) -> Path:
    """Row-normalised confusion matrix (true class per row) with the counts written in; classes that
    neither occur nor are predicted are left out."""
    from matplotlib.figure import Figure

    confusion = np.asarray(confusion)
    shown = np.flatnonzero(confusion.sum(axis=0) + confusion.sum(axis=1))
    if len(shown):
        confusion = confusion[np.ix_(shown, shown)]
        class_names = [class_names[i] for i in shown]
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape, dtype=float), where=rows > 0)
    n = len(class_names)
    side = max(5.0, 0.35 * n + 2.5)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    labels = [name if len(name) <= 28 else name[:26] + ".." for name in class_names]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if confusion[i, j]:
                    ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return Path(png)


@dataclass(frozen=True)
class Row:
    """One line of a results table: test figures at the final epoch and at the best-on-val epoch."""

    model: str
    input: str
    accuracy: float
    macro_f1: float
    best_epoch: int | None = None
    best_accuracy: float | None = None
    best_macro_f1: float | None = None


def stage_rows(stage_dir: Path, title: str) -> list[Row]:
    """Rows of a finished stage (one per prediction head) from its results.json."""
    result = json.loads((Path(stage_dir) / RESULTS_FILE).read_text())
    rows = []
    for head, final in result["final"]["test"].items():
        best = result["best"]["test"][head] if result["best_epoch"] is not None else None
        rows.append(Row(
            model=title, input=head, accuracy=final["accuracy"], macro_f1=final["macro_f1"],
            best_epoch=result["best_epoch"],
            best_accuracy=best["accuracy"] if best else None, best_macro_f1=best["macro_f1"] if best else None,
        ))
    return rows


def baseline_table_rows(results) -> list[Row]:
    return [Row(model=f"classical: {r.model}", input=r.input, accuracy=r.scores.accuracy,
                macro_f1=r.scores.macro_f1) for r in results]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown_table(rows: Sequence[Row], num_classes: int | None = None, protocol: str | None = None) -> str:
    """The results table; test figures in percent; num_classes: the classes the data holds (chance = 1/num_classes)."""
    selected = any(r.best_epoch is not None for r in rows)  # rows of networks chosen on validation
    header = "| model | input | test acc | test macro-F1 |"
    lines = [header + (" best-val epoch | test acc @best-val | test macro-F1 @best-val |" if selected else ""),
             "|---|---|---:|---:|" + ("---:|---:|---:|" if selected else "")]
    for r in rows:
        line = f"| {r.model} | {r.input} | {_pct(r.accuracy)} | {_pct(r.macro_f1)} |"
        if selected:
            line += (f" {r.best_epoch if r.best_epoch is not None else '-'} | {_pct(r.best_accuracy)} | "
                     f"{_pct(r.best_macro_f1)} |")
        lines.append(line)
    notes = []
    if protocol:
        notes.append(f"protocol: {protocol}")
    if num_classes:
        notes.append(f"chance: {100 / num_classes:.1f}% ({num_classes} classes)")
    notes.append("test acc / macro-F1: final epoch" + ("; @best-val: the checkpoint with the best validation accuracy"
                                                       if selected else ""))
    return "\n".join(lines) + "\n\n" + "; ".join(notes) + "\n"


def write_stage_report(stage_dir: Path, class_names: Sequence[str], title: str) -> None:
    """curves.png and confusion.png (final-epoch test confusion of the first head) of one stage."""
    stage_dir = Path(stage_dir)
    records = read_metrics(stage_dir)
    if records:
        plot_curves(records, stage_dir / CURVES_PNG, title)
    result = json.loads((stage_dir / RESULTS_FILE).read_text())
    head, scores = next(iter(result["final"]["test"].items()))
    plot_confusion(np.asarray(scores["confusion"]), class_names, stage_dir / CONFUSION_PNG,
                   f"{title} [{head}], test, final epoch")


def write_run_report(run_dir: Path, titles: Mapping[str, str], spec: DatasetSpec, store: Store, protocol: str,
                     seed: int = 0, baseline: bool = True, modalities: Sequence[str] | None = None) -> str:
    """Stage reports, then results.md / results.json of the run, with the classical baseline's rows on
    `modalities` (the sensors the run's networks are scored on; default: every sensor of the store)."""
    run_dir = Path(run_dir)
    rows: list[Row] = []
    for name, title in titles.items():
        stage_dir = run_dir / name
        if (stage_dir / RESULTS_FILE).exists():
            write_stage_report(stage_dir, spec.classes, title)
            rows += stage_rows(stage_dir, title)
    classical = []
    modalities = tuple(modalities) if modalities else tuple(store.modalities)
    if baseline and modalities:
        from training.run.baseline import run_baseline

        classical = run_baseline(store, spec, protocol, seed, modalities=modalities)
        rows += baseline_table_rows(classical)
    table = markdown_table(rows, len(np.unique(store.takes["label"])), protocol)
    (run_dir / RESULTS_MD).write_text(f"# {run_dir.name}\n\n{table}")
    (run_dir / RESULTS_JSON).write_text(json.dumps({
        "rows": [r.__dict__ for r in rows], "baseline": [b.to_dict() for b in classical]}, indent=1))
    logger.info(table)
    return table
