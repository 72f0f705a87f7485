#!/usr/bin/env python3
# Writes small .h5ad files in the layouts other tools use, read by tests/test_data_layouts.cpp (the C++ test
# hard-codes the counts below). Generated with anndata 0.12.19; rerun only on purpose:
#   python3 tests/data/make_layout_fixtures.py
#  - layout_gears.h5ad: GEARS / scPerturb style, obs['condition'] in {'ctrl', 'A+ctrl', 'ctrl+B', 'A+B'}:
#    40 ctrl, 20 GENE1+ctrl, 20 ctrl+GENE2, 20 GENE1+GENE2, 20 GENE3+ctrl (single knockouts written as combinations)
#  - layout_replogle.h5ad: Ensembl IDs as the var index, symbols in var['gene_name'] (GENE5 twice, one symbol
#    missing), obs['gene'] with 'non-targeting' controls: 40 controls and 20 cells each of GENE1, GENE2, GENE4
#  - layout_cpa.h5ad: X log-normalised (not counts), raw counts in layers['counts'], obs['split'] in
#    {train, test, ood}: 60 train, 30 test, 30 ood; obs['perturbation'] control 'control', GENE1, GENE2
import os

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
G = 30
SYMBOLS = ["GENE%d" % i for i in range(1, G + 1)]
rng = np.random.default_rng(42)


def counts(n):
    lam = rng.gamma(2.0, 2.0, size=G)
    return rng.poisson(lam, size=(n, G)).astype(np.float32)


def write(name, X, obs, var, layers=None):
    a = ad.AnnData(X=X, obs=obs, var=var, layers=layers or {})
    a.write_h5ad(os.path.join(HERE, name))


# GEARS
cond = ["ctrl"] * 40 + ["GENE1+ctrl"] * 20 + ["ctrl+GENE2"] * 20 + ["GENE1+GENE2"] * 20 + ["GENE3+ctrl"] * 20
n = len(cond)
write("layout_gears.h5ad", sp.csr_matrix(counts(n)),
      pd.DataFrame({"condition": pd.Categorical(cond)}, index=["c%d" % i for i in range(n)]),
      pd.DataFrame(index=SYMBOLS))

# Replogle
genes = ["non-targeting"] * 40 + ["GENE1"] * 20 + ["GENE2"] * 20 + ["GENE4"] * 20
n = len(genes)
ens = ["ENSG%011d" % (1000 + i) for i in range(G)]
names = list(SYMBOLS)
names[5] = "GENE5"          # GENE5 appears twice (index 4 and 5): made unique as GENE5, GENE5-1
names[7] = None             # a missing symbol (categorical code -1) keeps its Ensembl ID
write("layout_replogle.h5ad", sp.csr_matrix(counts(n)),
      pd.DataFrame({"gene": pd.Categorical(genes)}, index=["r%d" % i for i in range(n)]),
      pd.DataFrame({"gene_name": pd.Categorical(names)}, index=ens))

# CPA
pert = (["control"] * 20 + ["GENE1"] * 20 + ["GENE2"] * 20) * 2
split = ["train"] * 60 + ["test"] * 30 + ["ood"] * 30
n = len(pert)
raw = counts(n)
lognorm = np.log1p(raw / raw.sum(1, keepdims=True) * 1e4).astype(np.float32)
write("layout_cpa.h5ad", lognorm,
      pd.DataFrame({"perturbation": pd.Categorical(pert), "split": pd.Categorical(split)},
                   index=["p%d" % i for i in range(n)]),
      pd.DataFrame(index=SYMBOLS), layers={"counts": sp.csr_matrix(raw)})
print("wrote layout_gears.h5ad, layout_replogle.h5ad, layout_cpa.h5ad")
