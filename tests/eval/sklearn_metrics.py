"""Reference metrics for tests/eval/test_metrics.cpp, from scikit-learn (Debian's python3-sklearn).

usage: sklearn_metrics.py PREDICTIONS.csv   (columns y,score,weight)
prints one JSON object: auroc, auprc, brier, ece, each weighted by the weight column.
ECE: sklearn has none; it is computed from calibration_curve's bins (uniform, 10 bins) weighted by
the bin counts, on unweighted rows only (calibration_curve takes no weights), as "ece_unweighted".
"""
import json
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
y, score, weight = data[:, 0].astype(int), data[:, 1], data[:, 2]
prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
bins = np.linspace(0.0, 1.0 + 1e-8, 11)
ids = np.searchsorted(bins[1:-1], score)
counts = np.bincount(ids, minlength=10)
counts = counts[counts > 0]
ece = float(np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)))
print(json.dumps({
    "auroc": roc_auc_score(y, score, sample_weight=weight),
    "auprc": average_precision_score(y, score, sample_weight=weight),
    "brier": brier_score_loss(y, score, sample_weight=weight),
    "ece_unweighted": ece,
}))
