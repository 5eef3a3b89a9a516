"""A trivial baseline for scale: logistic regression on the (decimated) raw samples."""

from __future__ import annotations

import numpy as np

MAX_FEATURES = 3000


def raw_logistic_baseline(signals, labels: np.ndarray, train_index: np.ndarray, test_index: np.ndarray,
                          kind: str, seed: int = 0) -> np.ndarray:
    """Fit on the training rows, return test probabilities (N_test, C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    step = max(1, int(np.ceil(signals.shape[1] * signals.shape[2] / MAX_FEATURES)))
    features = lambda index: np.asarray(signals[index][:, :, ::step], dtype=np.float32).reshape(len(index), -1)
    classifier = LogisticRegression(max_iter=300, C=0.1, random_state=seed)
    if kind == "multilabel":
        classifier = OneVsRestClassifier(classifier)
        target = labels[train_index]
    else:
        target = labels[train_index].argmax(axis=1)
    model = make_pipeline(StandardScaler(), classifier).fit(features(train_index), target)
    probs = model.predict_proba(features(test_index))
    if kind == "multiclass" and probs.shape[1] != labels.shape[1]:
        full = np.zeros((len(test_index), labels.shape[1]))
        full[:, model.classes_] = probs
        probs = full
    return probs
