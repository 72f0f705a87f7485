#!/usr/bin/env python3
"""Recomputes the linear baseline of Ahlmann-Eltze, Huber & Anders (Nature Methods 2025) with numpy, line by line
as their benchmark/src/run_linear_pretrained_model.R does with gene_embedding = pert_embedding = "training_data"
(const-ae/linear_perturbation_prediction-Paper at 092743c), on a case the engine wrote, and compares the engine's
predictions:

- gene_emb = prcomp_irlba(X_train, n = pca_dim)$x: PCA of the genes x conditions matrix of the training
  pseudobulks (genes are the observations, each condition's column centred), the first pca_dim scores, here from
  numpy's exact SVD (irlba approximates the same truncated SVD);
- pert_emb: the rows of gene_emb named by each condition (a single perturbation's target gene), 0 for "ctrl";
  conditions without one are dropped (pert_matches NA);
- solve_y_axb(Y = change[, fitted], A = gene_emb, B = pert_emb, ridge, ridge): center = rowMeans(Y),
  K = (A'A + l I)^-1 A' (Y - center) B' (B B' + l I)^-1;
- pred = gene_emb K pert_emb_all + center + baseline.

    python3 tests/python/check_linear_baseline.py CASE_JSON

CASE_JSON: {"train": {label: profile}, "control": label, "targets": {label: gene index}, "components": K,
"ridge": l, "predicted": {label: profile}}. Exit 0 when every predicted value agrees to 1e-9 (both in double; the
engine's eigenvectors of the Gram matrix and numpy's SVD agree to ~1e-12 on this well-conditioned case), 1 otherwise,
77 when numpy cannot be imported.
"""
import json
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(77)

case = json.load(open(sys.argv[1]))
labels = sorted(case["train"])
X = np.array([case["train"][l] for l in labels]).T  # genes x conditions
ctrl = case["control"]
baseline = np.array(case["train"][ctrl])
K, ridge = case["components"], case["ridge"]
targets = {l: g for l, g in case["targets"].items() if g is not None and g >= 0}

Xc = X - X.mean(axis=0, keepdims=True)  # prcomp(center = TRUE): each column centred
U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
gene_emb = U[:, :K] * S[:K]  # genes x K


def pert_embedding(label):
    if label == ctrl:
        return np.zeros(K)
    if label in targets:
        return gene_emb[targets[label]]
    return None


fitted = [l for l in labels if pert_embedding(l) is not None]
Y = np.array([case["train"][l] for l in fitted]).T - baseline[:, None]
B = np.array([pert_embedding(l) for l in fitted]).T  # K x F
center = Y.mean(axis=1)
Yc = Y - center[:, None]
A = gene_emb
Kmat = np.linalg.solve(A.T @ A + ridge * np.eye(K), A.T @ Yc @ B.T) @ np.linalg.inv(B @ B.T + ridge * np.eye(K))

worst = 0.0
for label, engine in case["predicted"].items():
    e = pert_embedding(label)
    if e is None:
        e = np.zeros(K)  # the engine's documented fallback (R gives NA): the zero embedding
    pred = A @ Kmat @ e + center + baseline
    worst = max(worst, float(np.max(np.abs(pred - np.array(engine)))))
print(f"linear baseline: {len(case['predicted'])} predictions, {len(fitted)} fitted conditions, "
      f"largest difference {worst:.3g}")
sys.exit(0 if worst <= 1e-9 else 1)
