#!/usr/bin/env python3
# Reads an .h5ad written by gpo::io::h5ad_write (tests/test_h5ad.cpp, suite H5adWrite) with the real anndata package
# and asserts its contents; the expected values are written out here independently of the C++ test.
# Usage: check_written_h5ad.py <file.h5ad> roundtrip|minimal|csr    Exit status 0 = all checks passed.
# (csr: the file of tests/test_simulate.cpp, suite SimulateCsrWriter.)
import math
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def check_roundtrip(a):
    # X: (r * 4 + c - 2) * 0.5 for rows 0 and 2, row 1 all zeros, (0, 2) zero
    x = np.array([[-1.0, -0.5, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0], [3.0, 3.5, 0.0, 4.5]], dtype=np.float32)
    assert a.shape == (3, 4), a.shape
    assert a.X.dtype == np.float32, a.X.dtype
    np.testing.assert_array_equal(np.asarray(a.X), x)
    assert list(a.layers.keys()) == ["counts"], list(a.layers.keys())
    np.testing.assert_array_equal(np.asarray(a.layers["counts"]), [[1, 0, 2, 0], [0, 0, 0, 0], [5, 6, 0, 7]])

    obs = a.obs
    assert list(obs.index) == ["c0", "c1", "c2"], list(obs.index)
    assert obs.index.name == "cell", obs.index.name
    assert list(obs.columns) == ["perturbation", "guide", "n_counts", "umis", "score", "pass", "dose"], list(obs.columns)
    p = obs["perturbation"]
    assert isinstance(p.dtype, pd.CategoricalDtype), p.dtype
    assert list(p.cat.categories) == ["STAT1", "non-targeting"], list(p.cat.categories)
    assert p.iloc[0] == "non-targeting" and pd.isna(p.iloc[1]) and p.iloc[2] == "STAT1", list(p)
    assert not p.cat.ordered
    assert list(obs["guide"]) == ["NTg1", "x", "STAT1g1"], list(obs["guide"])
    assert obs["n_counts"].dtype == np.int64, obs["n_counts"].dtype
    assert list(obs["n_counts"]) == [3, 0, 18], list(obs["n_counts"])
    u = obs["umis"]
    assert str(u.dtype) == "Int64", u.dtype  # nullable integer
    assert u.iloc[0] == 1 and pd.isna(u.iloc[1]) and u.iloc[2] == 3, list(u)
    assert obs["score"].dtype == np.float64, obs["score"].dtype
    assert list(obs["score"]) == [0.25, -1.5, 1e-3], list(obs["score"])
    assert obs["pass"].dtype == bool, obs["pass"].dtype
    assert list(obs["pass"]) == [True, False, True], list(obs["pass"])
    d = obs["dose"]
    assert d.cat.ordered and list(d.cat.categories) == ["low", "high"], d.dtype
    assert list(d) == ["low", "high", "high"], list(d)

    var = a.var
    assert list(var.index) == ["IRF1", "JAK2", "STAT1", "MYC"], list(var.index)
    assert list(var.columns) == ["gene_symbol", "mean"], list(var.columns)
    assert list(var["gene_symbol"]) == ["irf1", "jak2", "stat1", "myc"], list(var["gene_symbol"])
    assert list(var["mean"]) == [0.5, 1.0, 1.5, 2.0], list(var["mean"])

    np.testing.assert_array_equal(a.obsm["z"], np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=np.float32))
    np.testing.assert_array_equal(a.varm["w"], np.array([[1], [2], [3], [4]], dtype=np.float32))

    assert a.uns["control_label"] == "non-targeting", a.uns["control_label"]
    assert a.uns["note"] == "\u00fc\u00f1\u00ef", a.uns["note"]  # UTF-8 survives
    assert math.isclose(a.uns["lr"], 0.001, rel_tol=0, abs_tol=0), a.uns["lr"]
    assert a.uns["seed"] == 7.0, a.uns["seed"]
    assert list(a.uns["grna_names"]) == ["NTg1", "STAT1g1"], a.uns["grna_names"]


def check_minimal(a):
    # 2 x 3 zeros, no columns, no uns entries, no layers
    assert a.shape == (2, 3), a.shape
    np.testing.assert_array_equal(np.asarray(a.X), np.zeros((2, 3), dtype=np.float32))
    assert list(a.obs.index) == ["a", "b"] and list(a.obs.columns) == [], a.obs
    assert list(a.var.index) == ["g1", "g2", "g3"] and list(a.var.columns) == [], a.var
    assert len(a.uns) == 0 and len(a.layers) == 0, (a.uns, a.layers)


def check_csr(a):
    # X (5 x 4) and layers["counts"] as CSR float32, uns numeric arrays
    x = np.array([[0, 1.5, 0, 2], [0, 0, 0, 0], [3, 0, 0, 0], [0, 0, 4, 5], [6, 0, 0, 0]], dtype=np.float32)
    assert a.shape == (5, 4), a.shape
    assert sp.issparse(a.X) and a.X.format == "csr", type(a.X)
    assert a.X.dtype == np.float32, a.X.dtype
    np.testing.assert_array_equal(a.X.toarray(), x)
    np.testing.assert_array_equal(a.X.indptr, [0, 2, 2, 3, 5, 6])
    c = a.layers["counts"]
    assert sp.issparse(c) and c.format == "csr", type(c)
    np.testing.assert_array_equal(c.toarray(), [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 7], [0, 2, 9, 0]])
    assert list(a.obs.index) == ["c0", "c1", "c2", "c3", "c4"], list(a.obs.index)
    w = a.uns["w"]
    assert isinstance(w, np.ndarray) and w.dtype == np.float64, type(w)
    np.testing.assert_array_equal(w, [0.5, -1.25])
    m = a.uns["m"]
    assert m.dtype == np.float32 and m.shape == (2, 3), (m.dtype, m.shape)
    np.testing.assert_array_equal(m, [[1, 2, 3], [4, 5, 6]])


def main():
    path, case = sys.argv[1], sys.argv[2]
    a = ad.read_h5ad(path)
    {"roundtrip": check_roundtrip, "minimal": check_minimal, "csr": check_csr}[case](a)
    print(f"check_written_h5ad: {path} ({case}): OK")


if __name__ == "__main__":
    main()
