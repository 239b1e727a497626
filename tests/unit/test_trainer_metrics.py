"""training/engine/metrics.py against a hand-computed case and scikit-learn."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix as sk_confusion, f1_score

from training.engine.metrics import score


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


def test_top5_counts_labels_among_the_five_highest_scores():
    logits = np.array([[9, 8, 7, 6, 5, 4, 0.0], [0, 1, 2, 3, 4, 5, 6.0], [6, 5, 4, 3, 2, 1, 0.0]])
    labels = np.array([4, 6, 6])  # 5th highest, highest, lowest
    s = score(labels, logits.argmax(axis=1), num_classes=7, logits=logits)
    assert s.top5 == 2 / 3 and s.accuracy == 1 / 3
    assert score(labels % 3, labels % 3, num_classes=3, logits=logits[:, :3]).top5 == 1.0  # C <= 5
    assert score(labels, labels, num_classes=7).top5 is None and "top5" not in score(labels, labels, 7).summary()
