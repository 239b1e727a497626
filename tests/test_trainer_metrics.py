"""training/metrics.py against a hand-computed case and scikit-learn."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix as sk_confusion, f1_score

from training.metrics import score


def test_hand_computed_case():
    labels = np.array([0, 0, 1, 1, 2])
    preds = np.array([0, 1, 1, 1, 0])
    s = score(labels, preds, num_classes=4)
    assert s.accuracy == 3 / 5
    assert s.confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    # F1: class 0 = 2*1/(2+2) = 0.5, class 1 = 2*2/(2+3) = 0.8, class 2 = 0; class 3 never occurs
    assert np.isclose(s.macro_f1, (0.5 + 0.8 + 0.0) / 3)
    assert s.per_class_accuracy[:3].tolist() == [0.5, 1.0, 0.0] and np.isnan(s.per_class_accuracy[3])


def test_matches_scikit_learn_on_random_predictions():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 7, 300), rng.integers(0, 9, 300)
    s = score(labels, preds, num_classes=9)
    assert np.isclose(s.accuracy, accuracy_score(labels, preds))
    assert np.isclose(s.macro_f1, f1_score(labels, preds, average="macro"))
    assert np.array_equal(s.confusion, sk_confusion(labels, preds, labels=range(9)))
