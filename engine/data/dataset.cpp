// Dataset helpers (see dataset.h).
#include "engine/data/dataset.h"

#include <cmath>

#include "engine/check.h"
#include "io/atomic_file.h"
#include "io/csv.h"
#include "io/hash.h"

#include <sstream>

namespace gpo::data {

const char* split_name(int s) { return s == SPLIT_TRAIN ? "train" : s == SPLIT_VAL ? "val" : "test"; }

void Dataset::treatment_expression(int64_t n, float* out) const {
    for (int64_t t = 0; t < T; ++t) out[t] = 0.f;
    double lib = library[n];
    if (lib <= 0) return;
    thread_local RowBuffer buf;
    const CsrRow e = counts.row(n, buf);
    for (int64_t k = 0; k < e.n; ++k) {
        int t = gene_treatment[e.idx[k]];
        if (t >= 0) out[t] = (float)std::log1p(e.val[k] * normalize_target / lib);
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

namespace {

void check_csr(const Csr& m, int64_t rows, int64_t cols, const std::string& what, const char* name) {
    GPO_CHECK(m.rows == rows && m.cols == cols && (int64_t)m.indptr.size() == rows + 1 && m.indptr.front() == 0 &&
                  (m.on_disk() ? m.indices.empty() && m.data.empty()
                               : m.indptr.back() == (int64_t)m.indices.size() && m.indices.size() == m.data.size()),
              what << ": corrupt " << name << " (shape " << m.rows << " x " << m.cols << ", expected " << rows
                   << " x " << cols << ")");
    for (int64_t r = 0; r < rows; ++r)
        GPO_CHECK(m.indptr[r] <= m.indptr[r + 1], what << ": corrupt " << name << " (row offsets decrease at " << r << ")");
    // One streaming pass (blocks of 16 M entries) whether the arrays are in memory or in a file.
    m.for_each_block(1 << 24, [&](int64_t r0, int64_t nr, int64_t k0, const int32_t* idx, const float* val) {
        const int64_t n = m.indptr[r0 + nr] - k0;
        for (int64_t k = 0; k < n; ++k) {
            GPO_CHECK(idx[k] >= 0 && idx[k] < cols,
                      what << ": corrupt " << name << " (column index " << idx[k] << " of " << cols << ")");
            GPO_CHECK(std::isfinite(val[k]) && val[k] >= 0, what << ": corrupt " << name << " (value " << val[k] << ")");
        }
    });
}

template <class V>
void check_size(const V& v, int64_t n, const std::string& what, const char* name) {
    GPO_CHECK((int64_t)v.size() == n, what << ": corrupt " << name << " (" << v.size() << " entries, expected " << n << ")");
}

}  // namespace

void validate_dataset(const Dataset& ds, const std::string& what) {
    const int64_t N = ds.N, G = ds.G, T = ds.T;
    GPO_CHECK(N >= 0 && G >= 0 && T >= 0 && ds.n_perturbed >= 0 && ds.n_perturbed <= T,
              what << ": corrupt sizes (N " << N << ", G " << G << ", T " << T << ")");
    check_size(ds.gene_names, G, what, "gene names");
    check_size(ds.treatment_names, T, what, "treatment names");
    check_size(ds.treatment_gene, T, what, "treatment genes");
    check_size(ds.gene_treatment, G, what, "gene treatments");
    check_size(ds.labels, N, what, "labels");
    check_size(ds.obs_names, N, what, "cell names");
    check_size(ds.library, N, what, "library sizes");
    check_size(ds.treatments, N, what, "treatments");
    check_size(ds.qc, N, what, "QC flags");
    check_size(ds.split, N, what, "splits");
    check_size(ds.norm_mean, G, what, "normalisation means");
    check_size(ds.norm_std, G, what, "normalisation deviations");
    check_size(ds.matched_control, N, what, "matched controls");
    check_size(ds.has_cf, N, what, "counterfactual flags");
    check_size(ds.plate_count, 3 * T, what, "plate counts");
    check_csr(ds.counts, N, G, what, "counts");
    check_csr(ds.cf_counts, ds.cf_counts.rows == 0 ? 0 : N, ds.cf_counts.rows == 0 ? ds.cf_counts.cols : G, what,
              "counterfactual counts");
    for (int64_t t = 0; t < T; ++t)
        GPO_CHECK(ds.treatment_gene[t] >= -1 && ds.treatment_gene[t] < G, what << ": corrupt treatment gene of " << t);
    for (int64_t g = 0; g < G; ++g)
        GPO_CHECK(ds.gene_treatment[g] >= -1 && ds.gene_treatment[g] < T, what << ": corrupt gene treatment of " << g);
    for (int64_t n = 0; n < N; ++n) {
        for (int t : ds.treatments[n])
            GPO_CHECK(t >= 0 && t < T, what << ": corrupt treatment " << t << " of cell " << n);
        GPO_CHECK(ds.qc[n] <= 1 && ds.split[n] <= SPLIT_TEST && ds.has_cf[n] <= 1,
                  what << ": corrupt flags of cell " << n);
        GPO_CHECK(ds.matched_control[n] >= -1 && ds.matched_control[n] < N, what << ": corrupt matched control of " << n);
        GPO_CHECK(std::isfinite(ds.library[n]) && ds.library[n] >= 0, what << ": corrupt library size of " << n);
    }
    for (int64_t g = 0; g < G; ++g)
        GPO_CHECK(std::isfinite(ds.norm_mean[g]) && std::isfinite(ds.norm_std[g]) && ds.norm_std[g] > 0,
                  what << ": corrupt normalisation of gene " << g);
    for (double c : ds.plate_count) GPO_CHECK(std::isfinite(c) && c >= 0, what << ": corrupt plate counts");
    GPO_CHECK(std::isfinite(ds.normalize_target) && ds.normalize_target > 0, what << ": corrupt normalisation target");
}

void write_cell_table(const Dataset& ds, const std::string& path) {
    using io::csv_field;
    std::ostringstream os;
    os << "obs_name,label,split,qc_fail,matched_control,has_counterfactual\n";
    for (int64_t n = 0; n < ds.N; ++n) {
        const int64_t m = ds.matched_control[n];
        os << csv_field(ds.obs_names[n]) << "," << csv_field(ds.labels[n]) << "," << split_name(ds.split[n]) << ","
           << (int)ds.qc[n] << "," << (m >= 0 ? csv_field(ds.obs_names[m]) : std::string()) << ","
           << (int)ds.has_cf[n] << "\n";
    }
    io::write_file_atomic(path, os.str());
}

}  // namespace gpo::data
