"""Classification metrics from integer labels, predictions and (optionally) class scores, via scikit-learn.

accuracy = mean(pred == label); macro-F1 = mean of 2 TP / (2 TP + FP + FN) over the classes that
occur in the labels or the predictions (scikit-learn's default); per-class accuracy (recall) =
TP / support, NaN where the class has no sample; top-5 = share of samples whose label is among
the k = min(5, C) highest scores (only when the scores are given).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics

TOP_K = 5


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """(C,) float64 recall per class; NaN for a class without test samples."""
    support = confusion.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / support, np.nan)


@dataclass(frozen=True)
class Scores:
    """All figures of one evaluation of one prediction head."""

    accuracy: float
    macro_f1: float
    per_class_accuracy: np.ndarray  # (C,)
    confusion: np.ndarray  # (C, C)
    count: int
    top5: float | None = None  # with class scores only

    def summary(self) -> dict[str, float]:
        """The scalar figures, for metrics.jsonl and tables."""
        figures = {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "count": self.count}
        return figures if self.top5 is None else {**figures, "top5": self.top5}

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable (NaN per-class entries become None)."""
        return {
            **self.summary(),
            "per_class_accuracy": [None if np.isnan(v) else float(v) for v in self.per_class_accuracy],
            "confusion": self.confusion.tolist(),
        }


def score(labels: np.ndarray, preds: np.ndarray, num_classes: int, logits: np.ndarray | None = None) -> Scores:
    """Accuracy, macro-F1, per-class accuracy, confusion and (with logits (N, C)) top-5 of one set of predictions."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    classes = np.arange(num_classes)
    confusion = metrics.confusion_matrix(labels, preds, labels=classes)
    if labels.size == 0:
        return Scores(0.0, 0.0, per_class_accuracy(confusion), confusion, 0)
    top5 = None
    if logits is not None:  # with C <= 5 classes every label is among the top 5
        top5 = 1.0 if num_classes <= TOP_K else float(metrics.top_k_accuracy_score(labels, logits, k=TOP_K,
                                                                                     labels=classes))
    return Scores(
        accuracy=float(metrics.accuracy_score(labels, preds)),
        macro_f1=float(metrics.f1_score(labels, preds, average="macro", zero_division=0)),
        per_class_accuracy=per_class_accuracy(confusion),
        confusion=confusion,
        count=int(labels.size),
        top5=top5,
    )
