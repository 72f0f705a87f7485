#!/usr/bin/env python3
"""AUROC of a learned GRN against two overlapping reference networks, each also on the pairs the other does not
contain (docs/quality.md, "Options beyond the reference"): with `model.grn_prior` set to one network, only the pairs
outside it test the other fairly.

usage: grn_auroc_outside.py GRN_MATRICES_H5AD TRRUST_TSV STRING_TSV_GZ
  GRN_MATRICES_H5AD  `gpo-engine grn`'s grn_matrices.h5ad (X = sigma(W); obs 'perturbed' marks the perturbed block)
  TRRUST_TSV         directed edges, no header: source, target in the first two columns
  STRING_TSV_GZ      undirected edges with a header naming gene1 and gene2
Scores the ordered pairs i != j of the perturbed block, as `gpo-engine grn --reference` does."""
import sys

import anndata
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def main(matrices, trrust_path, string_path):
    g = anndata.read_h5ad(matrices)
    names = list(g.obs_names)
    block = [i for i, p in enumerate(g.obs["perturbed"].values.astype(bool)) if p]
    prob = np.asarray(g.X)
    tr = pd.read_csv(trrust_path, sep="\t", header=None)
    trrust = set(zip(tr[0], tr[1]))
    trrust_both = trrust | {(b, a) for a, b in trrust}
    st = pd.read_csv(string_path, sep="\t")
    string = set(zip(st.gene1, st.gene2)) | set(zip(st.gene2, st.gene1))
    pairs = [(i, j) for i in block for j in block if i != j]
    name = lambda p: (names[p[0]], names[p[1]])

    def auroc(ref, exclude):
        sub = [p for p in pairs if name(p) not in exclude]
        y = np.array([name(p) in ref for p in sub])
        if y.sum() == 0 or y.sum() == len(y):
            return None, int(y.sum()), len(sub)
        return roc_auc_score(y, [prob[p] for p in sub]), int(y.sum()), len(sub)

    for label, ref, other, exclude in [("TRRUST", trrust, "STRING", string), ("STRING", string, "TRRUST", trrust_both)]:
        a, n, m = auroc(ref, set())
        b, n2, m2 = auroc(ref, exclude)
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
        print(f"{label}: AUROC {fmt(a)} ({n} edges, {m} pairs); on pairs not in {other}: {fmt(b)} ({n2} edges, {m2} pairs)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
