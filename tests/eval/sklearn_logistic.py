"""Reference for tests/eval/test_logistic.cpp: scikit-learn's L2 logistic regression on
standardised features, with C chosen to match clinfm's objective
    (1/n) sum logloss + (l2/2)|w|^2   <=>   C = 1 / (n * l2).
usage: sklearn_logistic.py DATA.csv L2   (columns y, x1..xd); prints predicted probabilities."""
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
l2 = float(sys.argv[2])
y, x = data[:, 0].astype(int), data[:, 1:]
z = StandardScaler().fit_transform(x)
model = LogisticRegression(C=1.0 / (len(y) * l2), tol=1e-10, max_iter=10000).fit(z, y)
print("\n".join(f"{p:.12f}" for p in model.predict_proba(z)[:, 1]))
