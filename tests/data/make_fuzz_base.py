#!/usr/bin/env python3
# Writes tests/data/fuzz_base_240.h5ad, the valid file the .h5ad mutation fuzzer (tools/fuzz/fuzz.py) corrupts:
# 240 cells of the embedded Papalexi dataset (60 controls and 15 cells of each of 12 perturbations, every column of
# obs/var/uns kept, so the variable-length strings, categoricals and attributes of a real file are all present).
# Generated with anndata 0.12.19 from data/papalexi2021_thp1_eccite.h5ad; rerun only on purpose:
#   python3 tests/data/make_fuzz_base.py
import os

import anndata as ad
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "data", "papalexi2021_thp1_eccite.h5ad")

a = ad.read_h5ad(SRC)
a = a[a.obs["guide_assignment_pass"].values].copy()
labels = ["IFNGR1", "IFNGR2", "CD86", "ATF2", "IRF1", "JAK2", "CAV1", "STAT1", "STAT2", "MYC", "SMAD4", "STAT3"]
rng = np.random.default_rng(0)
keep = list(rng.choice(np.where(a.obs["perturbation"] == "non-targeting")[0], 60, replace=False))
for g in labels:
    keep += list(rng.choice(np.where(a.obs["perturbation"] == g)[0], 15, replace=False))
b = a[sorted(keep)].copy()
b.obs["perturbation"] = b.obs["perturbation"].cat.remove_unused_categories()
b.write_h5ad(os.path.join(HERE, "fuzz_base_240.h5ad"))
print(b)
