// Dataset helpers (see dataset.h).
#include "engine/data/dataset.h"

#include "io/hash.h"

#include <cmath>

namespace gpo::data {

const char* split_name(int s) { return s == SPLIT_TRAIN ? "train" : s == SPLIT_VAL ? "val" : "test"; }

double Csr::row_sum(int64_t r) const {
    double s = 0;
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) s += data[k];
    return s;
}

void Dataset::treatment_expression(int64_t n, float* out) const {
    for (int64_t t = 0; t < T; ++t) out[t] = 0.f;
    double lib = library[n];
    if (lib <= 0) return;
    for (int64_t k = counts.indptr[n]; k < counts.indptr[n + 1]; ++k) {
        int t = gene_treatment[counts.indices[k]];
        if (t >= 0) out[t] = (float)std::log1p(counts.data[k] * normalize_target / lib);
    }
}

void Dataset::delta_row(int64_t n, float* out) const {
    int64_t m = matched_control[n];
    if (m < 0) {
        for (int64_t t = 0; t < T; ++t) out[t] = 0.f;
        return;
    }
    std::vector<float> yn(T), ym(T);
    treatment_expression(n, yn.data());
    treatment_expression(m, ym.data());
    for (int64_t t = 0; t < T; ++t) out[t] = std::fabs(yn[t] - ym[t]);
}

std::vector<int64_t> Dataset::cells_of_split(int s) const {
    std::vector<int64_t> out;
    for (int64_t n = 0; n < N; ++n)
        if (split[n] == s) out.push_back(n);
    return out;
}

std::string dataset_identity(const Dataset& ds) {
    io::Hasher h(0x6770'6f64'6174'61ull);
    h.update_string("genes");
    for (const auto& g : ds.gene_names) h.update_string(g);
    h.update_string("treatments");
    for (const auto& t : ds.treatment_names) h.update_string(t);
    const int64_t P = ds.n_perturbed;
    h.update(&P, sizeof P);
    return h.hex();
}

}  // namespace gpo::data
