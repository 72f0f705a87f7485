#!/usr/bin/env python3
# Writes the small .h5ad fixtures read by tests/test_h5ad.cpp, with the real anndata package (the independent
# source: the C++ tests hard-code the values below). Run from anywhere: python3 tests/data/make_fixtures.py
# Generated with anndata 0.12.19, h5py 3.16.0, numpy 2.4, pandas 2.3. Outputs are committed; rerun only on purpose.
import os

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))

# The one 4 x 3 count matrix every X fixture stores (zeros stay zeros in the sparse ones).
COUNTS = np.array([[1, 0, 2],
                   [0, 0, 3],
                   [4, 5, 0],
                   [0, 6, 7]])


def path(name):
    return os.path.join(HERE, name)


def obs_frame():
    return pd.DataFrame(
        {
            # categorical with a missing value (code -1); categories sorted by pandas: ["STAT1", "non-targeting"]
            "perturbation": pd.Categorical(["non-targeting", "STAT1", None, "STAT1"]),
            "guide": ["NTg1", "STAT1g2", "none", "STAT1g1"],         # string-array
            "score": np.array([0.5, -1.25, 3.0, 1e-3]),               # float64 array
            "n_counts": np.array([3, 3, 9, 13], dtype=np.int32),      # int32 array (= row sums of COUNTS)
            "pass": np.array([True, False, True, True]),              # bool array
        },
        index=pd.Index(["cell_a", "cell_b", "cell_c", "cell_d"], name="cell_id"),
    )


def var_frame():
    return pd.DataFrame(
        {"gene_symbol": ["IRF1", "JAK2", "STAT1"], "mean": np.array([1.25, 2.75, 3.0], dtype=np.float32)},
        index=["g1", "g2", "g3"],
    )


def uns_dict():
    return {
        "control_label": "non-targeting",
        "seed": 42,
        "lr": 0.5,
        "grna_names": np.array(["NTg1", "STAT1g1", "STAT1g2"], dtype=object),
        "meta": {"source": "fixture"},
    }


def write_dense_f32():
    # dense float32 X = 0.5 * COUNTS, every obs column kind, uns values, and two layers:
    # `counts` = COUNTS as CSR int32, `csc` = COUNTS + 0.25 where nonzero as CSC float64
    # (the reader converts CSC to CSR and float64 to float32).
    a = ad.AnnData(X=COUNTS.astype(np.float32) * 0.5, obs=obs_frame(), var=var_frame(), uns=uns_dict())
    a.layers["counts"] = sp.csr_matrix(COUNTS.astype(np.int32))
    a.layers["csc"] = sp.csc_matrix(COUNTS.astype(np.float64) + 0.25 * (COUNTS > 0))
    a.write_h5ad(path("dense_f32.h5ad"))


def write_csr_int32(name="csr_int32.h5ad"):
    a = ad.AnnData(X=sp.csr_matrix(COUNTS.astype(np.int32)), obs=obs_frame(), var=var_frame())
    a.write_h5ad(path(name))


def write_dense_int64_nullable():
    # dense int64 X = COUNTS; nullable integer / boolean columns and an ordered categorical in obs; var without
    # columns (anndata then writes column-order as an empty float64 array)
    obs = pd.DataFrame(
        {
            "umis": pd.array([7, None, 9, 10], dtype="Int64"),          # nullable-integer, one missing
            "ok": pd.array([True, False, None, True], dtype="boolean"), # nullable-boolean, one missing
            "dose": pd.Categorical(["low", "high", "low", "mid"], categories=["low", "mid", "high"], ordered=True),
        },
        index=["c1", "c2", "c3", "c4"],
    )
    a = ad.AnnData(X=COUNTS.astype(np.int64), obs=obs, var=pd.DataFrame(index=["g1", "g2", "g3"]))
    a.write_h5ad(path("dense_int64_nullable.h5ad"))


def write_fixed_strings():
    # Same content as csr_int32.h5ad, then every string attribute rewritten as a fixed-length (numpy bytes) string
    # and the obs index (obs/cell_id) as a fixed-length string dataset: other writers (older anndata, R) produce
    # these forms.
    write_csr_int32("fixed_strings.h5ad")
    with h5py.File(path("fixed_strings.h5ad"), "r+") as f:
        def fix(name, obj):
            for k, v in list(obj.attrs.items()):
                if isinstance(v, str):
                    obj.attrs[k] = np.bytes_(v)
                elif isinstance(v, np.ndarray) and v.dtype == object:
                    obj.attrs[k] = np.array([s.encode() for s in v], dtype="S")
        fix("/", f)
        f.visititems(fix)
        name = "obs/" + f["obs"].attrs["_index"].decode()  # "obs/cell_id"
        idx = [s.decode() if isinstance(s, bytes) else s for s in f[name][...]]
        attrs = dict(f[name].attrs)
        del f[name]
        f.create_dataset(name, data=np.array([s.encode() for s in idx], dtype="S10"))
        for k, v in attrs.items():
            f[name].attrs[k] = v


def write_bad():
    # One file without X and with three broken layers for the error tests (anndata writes them, h5py then breaks
    # one field each; one file rather than four because every anndata file carries ~17 KB of HDF5 group overhead):
    #   layers/bad_indptr: CSR whose indptr has length 4 instead of rows + 1 = 5
    #   layers/bad_encoding: CSR group whose encoding-type is "foo"
    #   layers/unrepresentable: dense int32 holding 2^24 + 1, which has no exact float32 representation
    a = ad.AnnData(X=None, obs=pd.DataFrame(index=["c1", "c2", "c3", "c4"]), var=pd.DataFrame(index=["g1", "g2", "g3"]))
    a.layers["bad_indptr"] = sp.csr_matrix(COUNTS.astype(np.int32))
    a.layers["bad_encoding"] = sp.csr_matrix(COUNTS.astype(np.int32))
    big = COUNTS.astype(np.int32)
    big[3, 2] = 16777217
    a.layers["unrepresentable"] = big
    a.write_h5ad(path("bad.h5ad"))
    with h5py.File(path("bad.h5ad"), "r+") as f:
        indptr = f["layers/bad_indptr/indptr"][...]
        del f["layers/bad_indptr/indptr"]
        f["layers/bad_indptr/indptr"] = indptr[:-1]
        f["layers/bad_encoding"].attrs["encoding-type"] = "foo"


if __name__ == "__main__":
    write_dense_f32()
    write_csr_int32()
    write_dense_int64_nullable()
    write_fixed_strings()
    write_bad()
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".h5ad"):
            print(f"{name}: {os.path.getsize(path(name))} bytes")
