"""Classical reference: scikit-learn models on per-axis statistics of the cached signals.

Features of one take and modality, from the cleaned, resampled signal x (L, 3) of the store:
per axis mean, std, min, max, 10/25/50/75/90th percentiles, energy mean(x^2), mean |dx|,
the same seven summary statistics (mean, std, min, max, p25, p50, p75) of the magnitude
||x_t||, and the take's duration in seconds and raw sample count (Store.sensor_info), which
resampling to a fixed length erases. "fused" concatenates the features of every modality.
A random forest and a standardised logistic regression are fitted on the protocol's training
takes (training subjects, validation included: nothing is tuned) and scored on its test takes,
the same takes the GAF networks are scored on.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.data.loaders import TAKES, Needs, check_store, select
from training.engine.metrics import Scores, score

PERCENTILES = (10, 25, 50, 75, 90)
MODELS = ("random forest", "logistic regression")


def signal_features(signal: np.ndarray) -> np.ndarray:
    """(n, L, 3) float -> (n, 3 * 11 + 7) float64 statistics (see the module docstring)."""
    x = np.asarray(signal, dtype=np.float64)
    per_axis = [x.mean(1), x.std(1), x.min(1), x.max(1), *np.percentile(x, PERCENTILES, axis=1),
                (x ** 2).mean(1), np.abs(np.diff(x, axis=1)).mean(1)]
    magnitude = np.linalg.norm(x, axis=2)
    per_magnitude = [magnitude.mean(1), magnitude.std(1), magnitude.min(1), magnitude.max(1),
                     *np.percentile(magnitude, (25, 50, 75), axis=1)]
    return np.concatenate([np.concatenate(per_axis, axis=1), np.stack(per_magnitude, axis=1)], axis=1)


def take_features(store: Store, modalities: Sequence[str], takes: np.ndarray) -> np.ndarray:
    """(n, F) features of `takes`: each modality's signal statistics, duration and sample count."""
    parts = []
    for modality in modalities:
        info = store.sensor_info(modality)
        parts += [signal_features(store.signal(modality, takes)),
                  info["duration_s"][takes, None].astype(np.float64), info["nsamples"][takes, None].astype(np.float64)]
    return np.concatenate(parts, axis=1)


def make_model(name: str, seed: int):
    if name == "random forest":
        return RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


@dataclass(frozen=True)
class BaselineResult:
    """Test figures of one classical model on one input (a modality or 'fused')."""

    model: str
    input: str
    protocol: str
    train_takes: int
    scores: Scores

    def to_dict(self) -> dict:
        return {"model": self.model, "input": self.input, "protocol": self.protocol,
                "train_takes": self.train_takes, **self.scores.to_dict()}


def run_baseline(store: Store, spec: DatasetSpec, protocol: str | None = None, seed: int = 0,
                 modalities: Sequence[str] | None = None, models: Sequence[str] = MODELS,
                 train_fraction: float = 1.0) -> list[BaselineResult]:
    """Fit and score each model per modality and, with two or more modalities, on all of them fused
    (on the stratified train_fraction share of the training takes that a network run of `seed` sees)."""
    protocol = protocol or spec.default_protocol
    modalities = list(modalities or store.modalities)
    inputs = [(m, (m,)) for m in modalities] + ([("fused", tuple(modalities))] if len(modalities) > 1 else [])
    results = []
    for name, used in inputs:
        needs = Needs(modalities=used)
        check_store(store, spec, needs)
        selection = select(store, spec, protocol, TAKES, needs, needs, val_fraction=0.0, seed=seed,
                           train_fraction=train_fraction)
        train, test = selection.train, selection.test
        x_train, x_test = take_features(store, used, train), take_features(store, used, test)
        y_train, y_test = store.takes["label"][train], store.takes["label"][test]
        for model_name in models:
            model = make_model(model_name, seed).fit(x_train, y_train)
            results.append(BaselineResult(model_name, name, protocol, len(train),
                                          score(y_test, model.predict(x_test), spec.num_classes)))
    return results
