// Minibatch construction (see loader.h).
#include "engine/data/loader.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/check.h"
#include "engine/ops/elementwise.h"
#include "engine/rng.h"

namespace gpo::data {

std::vector<std::vector<int64_t>> epoch_batches(const Dataset& ds, int split, int64_t batch_size, uint64_t seed,
                                                uint64_t epoch, bool shuffle) {
    std::vector<int64_t> cells = ds.cells_of_split(split);
    if (shuffle) {
        HostRng rng(seed, 1000000 + epoch);
        for (size_t i = cells.size(); i > 1; --i) std::swap(cells[i - 1], cells[rng.below(i)]);
    }
    return cut_into_batches(cells, batch_size);
}

std::vector<std::vector<int64_t>> cut_into_batches(const std::vector<int64_t>& cells, int64_t batch_size) {
    std::vector<std::vector<int64_t>> out;
    for (size_t i = 0; i < cells.size(); i += (size_t)batch_size)
        out.emplace_back(cells.begin() + i, cells.begin() + std::min(cells.size(), i + (size_t)batch_size));
    return out;
}

static Tensor dense_rows(const Csr& m, const std::vector<int64_t>& cells, DType dt) {
    const int64_t B = (int64_t)cells.size();
    std::vector<double> v((size_t)(B * m.cols), 0.0);
    RowBuffer buf;
    for (int64_t i = 0; i < B; ++i) {
        const CsrRow e = m.row(cells[i], buf);
        for (int64_t k = 0; k < e.n; ++k) v[i * m.cols + e.idx[k]] = e.val[k];
    }
    return Tensor::from_vector({B, m.cols}, v, dt);
}

void read_ahead(const Dataset& ds, const std::vector<int64_t>& cells) {
    if (!ds.counts.on_disk() && !ds.cf_counts.on_disk()) return;
    std::vector<int64_t> rows = cells;
    for (int64_t n : cells)
        if (ds.matched_control[n] >= 0) rows.push_back(ds.matched_control[n]);
    ds.counts.will_need(rows);
    ds.cf_counts.will_need(cells);
}

models::Batch make_batch(const Dataset& ds, const std::vector<int64_t>& cells, int split, DType dt, Device dev) {
    GPO_CHECK(!cells.empty(), "make_batch: no cells");
    models::Batch b;
    const int64_t B = (int64_t)cells.size();
    b.B = B;
    Tensor mean = Tensor::from_vector({ds.G}, std::vector<double>(ds.norm_mean.begin(), ds.norm_mean.end()), dt).to(dev);
    Tensor sd = Tensor::from_vector({ds.G}, std::vector<double>(ds.norm_std.begin(), ds.norm_std.end()), dt).to(dev);
    auto standardize = [&](const Tensor& counts) {
        Tape t;
        NoGradGuard ng(t);
        return t.value(ops::log_standardize(t, t.constant(counts), mean, sd));
    };
    b.counts = dense_rows(ds.counts, cells, dt).to(dev);
    b.norm_x = standardize(b.counts);
    b.cf_norm_x = standardize(dense_rows(ds.cf_counts, cells, dt).to(dev));

    std::vector<double> lib(B), qc(B), delta((size_t)(B * ds.T));
    std::vector<float> drow(ds.T);
    b.has_cf.resize(B);
    b.qc_host.resize(B);
    std::map<int, int> pos;  // treatment -> column in the present list
    for (int64_t i = 0; i < B; ++i) {
        int64_t n = cells[i];
        lib[i] = ds.library[n];
        qc[i] = ds.qc[n];
        b.qc_host[i] = ds.qc[n];
        b.has_cf[i] = ds.has_cf[n];
        ds.delta_row(n, drow.data());
        for (int64_t t = 0; t < ds.T; ++t) delta[i * ds.T + t] = drow[t];
        for (int t : ds.treatments[n]) pos[t] = 0;
    }
    for (auto& [t, p] : pos) {
        p = (int)b.present.size();
        b.present.push_back(t);
    }
    std::vector<std::vector<std::pair<int, double>>> sub(B), plate(B);
    for (int64_t i = 0; i < B; ++i)
        for (int t : ds.treatments[cells[i]]) {
            double nt = ds.plate_count[split * ds.T + t];
            sub[i].push_back({pos[t], 1.0});
            plate[i].push_back({pos[t], nt > 0 ? 1.0 / nt : 0.0});
        }
    const int64_t R = (int64_t)b.present.size();
    b.D_sub = ops::Dosage::from_lists(sub, R, dt).to(dev);
    b.D_plate = ops::Dosage::from_lists(plate, R, dt).to(dev);
    b.library = Tensor::from_vector({B}, lib, dt).to(dev);
    b.qc = Tensor::from_vector({B}, qc, dt).to(dev);
    b.delta = Tensor::from_vector({B, ds.T}, delta, dt).to(dev);
    b.n_fail_split = ds.n_fail[split];
    return b;
}

ShardRange shard_range(int64_t B, int rank, int ranks) {
    GPO_CHECK(ranks > 0 && rank >= 0 && rank < ranks, "shard_range: rank " << rank << " of " << ranks);
    auto lo = [&](int r) { return (r * B + ranks - 1) / ranks; };
    return {lo(rank), rank + 1 == ranks ? B : lo(rank + 1)};
}

models::Batch make_shard_batch(const Dataset& ds, const std::vector<int64_t>& cells, ShardRange r, int split, DType dt,
                               Device dev) {
    GPO_CHECK(!r.empty() && r.lo >= 0 && r.hi <= (int64_t)cells.size(),
              "make_shard_batch: rows [" << r.lo << ", " << r.hi << ") of a batch of " << cells.size());
    std::vector<int64_t> mine(cells.begin() + r.lo, cells.begin() + r.hi);
    models::Batch b = make_batch(ds, mine, split, dt, dev);
    double n_fail = 0;
    int64_t n_cf = 0;
    for (int64_t n : cells) {
        n_fail += ds.qc[n];
        n_cf += ds.has_cf[n];
    }
    b.B_total = (int64_t)cells.size();
    b.row_offset = r.lo;
    b.n_fail_total = n_fail;
    b.n_cf_total = n_cf;
    b.global_terms = r.lo == 0;
    return b;
}

}  // namespace gpo::data
