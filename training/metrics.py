"""Classification metrics from integer labels and predictions (NumPy in, NumPy/float out).

accuracy = mean(pred == label); macro-F1 = mean of 2 TP / (2 TP + FP + FN) over the classes that
occur in the labels or the predictions (scikit-learn's convention); per-class accuracy (recall) =
TP / support, NaN where the class has no sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64; row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    flat = labels * num_classes + preds
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(labels: np.ndarray, preds: np.ndarray) -> float:
    """Top-1 accuracy in [0, 1]; 0.0 for an empty set."""
    labels = np.asarray(labels)
    return float(np.mean(labels == np.asarray(preds))) if labels.size else 0.0


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the labels or the predictions."""
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    seen = (support + predicted) > 0
    if not seen.any():
        return 0.0
    f1 = 2 * tp[seen] / (support[seen] + predicted[seen])
    return float(f1.mean())


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

    def summary(self) -> dict[str, float]:
        """The scalar figures, for metrics.jsonl and tables."""
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "count": self.count}

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable (NaN per-class entries become None)."""
        return {
            **self.summary(),
            "per_class_accuracy": [None if np.isnan(v) else float(v) for v in self.per_class_accuracy],
            "confusion": self.confusion.tolist(),
        }


def score(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> Scores:
    """Accuracy, macro-F1, per-class accuracy and confusion of one set of predictions."""
    confusion = confusion_matrix(labels, preds, num_classes)
    return Scores(
        accuracy=accuracy(labels, preds),
        macro_f1=macro_f1(confusion),
        per_class_accuracy=per_class_accuracy(confusion),
        confusion=confusion,
        count=int(np.asarray(labels).size),
    )
