#!/usr/bin/env python3
# Reads a file written by `gpo-engine simulate` (tests/test_simulate.cpp, SimulateFile.ReadByAnndata) with the real
# anndata package and checks its layout: CSR integer counts, obs/var columns, and the stored truth (GRN edge list
# among the treatment genes without self-loops, per-perturbation effects, the config).
# Usage: check_simulated_h5ad.py <file.h5ad> <cells> <genes> <perturbed> <extended>    Exit status 0 = passed.
import json
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def main():
    path = sys.argv[1]
    cells, genes, n_pert, n_ext = (int(v) for v in sys.argv[2:6])
    a = ad.read_h5ad(path)
    assert a.shape == (cells, genes), a.shape
    assert sp.issparse(a.X) and a.X.format == "csr" and a.X.dtype == np.float32, (type(a.X), a.X.dtype)
    d = a.X.data
    assert (d > 0).all() and (d == np.floor(d)).all(), "X must hold positive integer counts"
    a.X.sort_indices()  # no-op when already canonical
    assert a.X.has_canonical_format, "X rows must have sorted, unique column indices"

    p = a.obs["perturbation"]
    assert isinstance(p.dtype, pd.CategoricalDtype), p.dtype
    assert "non-targeting" in set(p.cat.categories)
    assert a.obs["qc_fail"].dtype == bool, a.obs["qc_fail"].dtype
    ext = a.var["extended"]
    assert ext.dtype == bool and ext.sum() == n_ext, ext.sum()
    names = list(a.var.index)
    T = n_pert + n_ext
    assert list(np.flatnonzero(ext.values)) == list(range(n_pert, T)), "extended genes follow the perturbed ones"
    singles = {str(c) for c in p.cat.categories if c != "non-targeting" and "+" not in str(c)}
    assert singles == set(names[:n_pert]), "every perturbed gene has cells"

    src, dst = list(a.uns["true_grn_source"]), list(a.uns["true_grn_target"])
    w = np.asarray(a.uns["true_grn_weight"])
    assert len(src) == len(dst) == len(w) > 0, (len(src), len(dst), len(w))
    treat = set(names[:T])
    assert all(s in treat and t in treat and s != t for s, t in zip(src, dst)), "edges among treatment genes only"
    eff = np.asarray(a.uns["true_effects"])
    assert eff.shape == (n_pert, genes) and eff.dtype == np.float32, (eff.shape, eff.dtype)
    assert list(a.uns["true_effects_perturbations"]) == names[:n_pert]
    cfg = json.loads(a.uns["simulation_config"])
    assert cfg["cells"] == cells and cfg["genes"] == genes, cfg
    print(f"check_simulated_h5ad: {path}: OK ({a.X.nnz} non-zeros, {len(src)} true edges)")


if __name__ == "__main__":
    main()
