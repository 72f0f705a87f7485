#!/usr/bin/env bash
# GRN recovery when perturbed genes are not measured (docs/quality.md, issue 13 §3). For each simulation seed, a
# small Perturb-seq file is simulated as in tests/test_grn_recovery.cpp (15 perturbed + 5 extended genes, 150 genes,
# 8,000 cells, default noise), once with every perturbed gene measured and once with UNMEASURED of them left out of
# X (simulate's unmeasured_perturbed_genes); a tiny gpo_vae is trained 150 steps (about 7 epochs) with each option in
# VARIANTS (reference; the GRN targets measured and profile; the training options mask_lr10, cosine, kl_warmup,
# penalty_warmup; prior: model.grn_prior from a file holding a random half of the true edges and as many non-edges,
# scored on the pairs the file does not name), and sigmoid(W) of the perturbed block is scored against the true network: AUROC over all ordered
# pairs, and separately over the pairs whose target gene is measured / unmeasured. Writes $OUT/grn_unmeasured.json
# and prints a table. Used by `make -f Makefile.bench grn-unmeasured`; about 3 minutes on 2 cores.
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out}
SEEDS=${SEEDS:-"1 2 3 4 5"}
UNMEASURED=${UNMEASURED:-8}
VARIANTS=${VARIANTS:-"reference measured profile"}
[ -x "$BUILD/gpo-engine" ] || scripts/build.sh
work="$OUT/grn_unmeasured"
mkdir -p "$work"
echo '{"model": {"type": "gpo_vae"}}' > "$work/base.json"
rows="$work/rows.jsonl"
: > "$rows"
for seed in $SEEDS; do
  for u in 0 "$UNMEASURED"; do
    d="$work/seed${seed}_unmeasured$u"
    mkdir -p "$d"
    "$BUILD/gpo-engine" simulate --out "$d/sim.h5ad" --threads 1 --set seed="$seed" --set cells=8000 --set genes=150 \
        --set perturbed_genes=15 --set extended_genes=5 --set control_fraction=0.15 --set combination_fraction=0.0 \
        --set grn.edge_density=0.1 --set unmeasured_perturbed_genes="$u" > "$d/simulate.log" 2>&1
    for target in $VARIANTS; do
      # measured and profile change only the columns of unmeasured genes: with every gene measured, the reference
      case "$target" in measured | profile) [ "$u" = 0 ] && continue ;; esac
      case "$target" in
        reference | measured | profile) sets=(--set model.grn_target="$target") ;;
        mask_lr10) sets=(--set train.mask_lr_scale=10) ;;
        cosine) sets=(--set train.lr_schedule=cosine --set train.lr_warmup_epochs=1 --set train.lr_decay_epochs=6
                      --set train.lr_min_fraction=0.1) ;;
        kl_warmup) sets=(--set train.kl_warmup_epochs=2) ;;
        penalty_warmup) sets=(--set train.penalty_warmup_epochs=2) ;;
        prior) python3 - "$d/sim.h5ad" "$seed" > "$d/prior.tsv" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    src = [x.decode() for x in f["uns/true_grn_source"][:]]; dst = [x.decode() for x in f["uns/true_grn_target"][:]]
    names = [x.decode() for x in f["obs/perturbation/categories"][:]]  # a categorical column
genes = sorted({g for g in names if g != "non-targeting"})
edges = set(zip(src, dst)); rng = np.random.default_rng(int(sys.argv[2]))
true = sorted(e for e in edges if e[0] in genes and e[1] in genes)
keep = [true[i] for i in rng.permutation(len(true))[: len(true) // 2]]
non = [(a, b) for a in genes for b in genes if a != b and (a, b) not in edges]
keep += [non[i] for i in rng.permutation(len(non))[: len(keep)]]
for a, b in keep: print(f"{a}\t{b}")
PY
               sets=(--set model.grn_prior="$d/prior.tsv") ;;
        *) echo "grn_unmeasured.sh: unknown variant $target" >&2; exit 2 ;;
      esac
      r="$d/$target"
      # The run config of tests/test_grn_recovery.cpp (tiny model, 150 Adam steps of 256 cells at lr 3e-3).
      "$BUILD/gpo-engine" train --config "$work/base.json" --out "$r" --force --max-steps 150 --device cpu \
          --set "data.path=$d/sim.h5ad" --set data.perturbation_key=perturbation --set data.control_label=non-targeting \
          --set data.cell_filter_column=null --set data.extended_gene_column=extended --set data.qc_column=qc_fail \
          --set "preprocess.split_fractions=[0.7,0.1,0.2]" --set "preprocess.cache_dir=$d/cache" \
          --set model.n_latent=8 --set model.basal_encoder.hidden=32 --set model.embedding_encoder.n_layers=2 \
          --set model.embedding_encoder.hidden=32 --set model.qc_encoder.n_layers=2 --set model.qc_encoder.hidden=32 \
          --set model.decoder.hidden=32 --set model.fc_criteria=0.6 --set train.batch_size=256 --set train.particles=1 \
          --set train.lr=3e-3 --set train.max_epochs=1000 --set train.patience=1000 --set train.log_every_steps=1000 \
          "${sets[@]}" > "$r.train.log" 2>&1 || { tail -5 "$r.train.log"; exit 1; }
      "$BUILD/gpo-engine" grn --checkpoint "$r/checkpoints/last.ckpt" --out "$r/grn" --random-sets 10 \
          > "$r.grn.log" 2>&1 || { tail -5 "$r.grn.log"; exit 1; }
      prior_file=""; [ "$target" = prior ] && prior_file="$d/prior.tsv"
      python3 - "$d/sim.h5ad" "$r/grn/grn_matrices.h5ad" "$seed" "$u" "$target" "$prior_file" >> "$rows" <<'PY'
import json, sys
import h5py
import numpy as np
sim, mat, seed, u, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
prior = {tuple(l.split()) for l in open(sys.argv[6])} if sys.argv[6] else set()
with h5py.File(sim, "r") as f:
    measured = {x.decode() for x in f["var/_index"][:]}
    edges = set(zip((x.decode() for x in f["uns/true_grn_source"][:]), (x.decode() for x in f["uns/true_grn_target"][:])))
with h5py.File(mat, "r") as f:
    names = [x.decode() for x in f["obs/_index"][:]]
    perturbed = f["obs/perturbed"][:].astype(bool)
    prob = f["X"][:]
def auroc(pairs):  # P(a true edge scores above a non-edge), ties 1/2 (the Mann-Whitney statistic)
    s = np.array([prob[i, j] for i, j in pairs]); y = np.array([(names[i], names[j]) in edges for i, j in pairs])
    if y.sum() == 0 or y.sum() == len(y):
        return None
    order = np.argsort(s, kind="mergesort"); ranks = np.empty(len(s)); i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[order[j + 1]] == s[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1; i = j + 1
    npos = y.sum(); nneg = len(y) - npos
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))
P = [i for i in range(len(names)) if perturbed[i]]
pairs = [(i, j) for i in P for j in P if i != j and (names[i], names[j]) not in prior]
print(json.dumps({"seed": seed, "unmeasured": u, "variant": target, "auroc_block": auroc(pairs),
                  "auroc_measured_targets": auroc([p for p in pairs if names[p[1]] in measured]),
                  "auroc_unmeasured_targets": auroc([p for p in pairs if names[p[1]] not in measured])}))
PY
    done
  done
done
python3 - "$rows" "$OUT/grn_unmeasured.json" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"benchmark": "GRN recovery with unmeasured perturbed genes (tools/bench/grn_unmeasured.sh)", "git_sha": sys.argv[3],
           "rows": rows}, open(sys.argv[2], "w"), indent=1)
fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
print(f"{'seed':>4} {'unmeasured':>10} {'variant':>14} {'AUROC block':>11} {'measured tgt':>12} {'unmeasured tgt':>14}")
for r in rows:
    print(f"{r['seed']:>4} {r['unmeasured']:>10} {r['variant']:>14} {fmt(r['auroc_block']):>11} "
          f"{fmt(r['auroc_measured_targets']):>12} {fmt(r['auroc_unmeasured_targets']):>14}")
print(f"written {sys.argv[2]}")
PY
