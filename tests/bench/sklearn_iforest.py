#!/usr/bin/python3
"""The peer of bench_iforest: scikit-learn's IsolationForest on the same datasets, measured the
same way (AUC over seeds 0..9, median fit time of 100 trees x 256, scoring rows/s on one core).
Prints one line per dataset: name auc fit_ms rows_per_s."""
import csv
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().strip('"') for h in rows[0]]
    data = np.array([[float(v.strip().strip('"')) for v in r] for r in rows[1:] if r], dtype=float)
    li = header.index("label")
    return np.delete(data, li, axis=1), data[:, li]


def main():
    for path in sys.argv[1:]:
        x, y = load(path)
        aucs = []
        for seed in range(10):
            f = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=1).fit(x)
            aucs.append(roc_auc_score(y, -f.score_samples(x)))
        fits = []
        for seed in range(10):
            t = time.perf_counter()
            IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=1).fit(x)
            fits.append((time.perf_counter() - t) * 1000)
        f = IsolationForest(n_estimators=100, max_samples=256, random_state=0, n_jobs=1).fit(x)
        rows, t = 0, time.perf_counter()
        while time.perf_counter() - t < 1.0:
            f.score_samples(x)
            rows += len(x)
        rate = rows / (time.perf_counter() - t)
        print(os.path.basename(path), f"{statistics.mean(aucs):.4f}", f"{statistics.median(fits):.2f}", f"{rate:.0f}")
        sys.stdout.flush()


main()
