// Sinkhorn matching (see sinkhorn.h). Plain double loops: the per-label problems are small (cells of one
// perturbation in one split against that split's controls).
#include "engine/data/sinkhorn.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "kernels/cpu/linear.h"

namespace gpo::data {

namespace {

// Squared Euclidean norm of each of the rows of x (rows, d), accumulated in a local in order.
std::vector<double> row_sq_norms(const double* x, size_t rows, int d) {
    std::vector<double> out(rows);
    for (size_t i = 0; i < rows; ++i) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += x[i * d + k] * x[i * d + k];
        out[i] = s;
    }
    return out;
}

// K (n, m) in place: from -2 x.y (the GEMM's output) to exp(-|x - y| / cost_scale / reg).
void kernel_from_dots(double* K, size_t n, size_t m, const double* sx, const double* sy, double cost_scale,
                      double reg) {
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < m; ++j) {
            double sq = std::max(0.0, K[i * m + j] + sx[i] + sy[j]);  // rounding can dip below 0 for equal rows
            K[i * m + j] = std::exp(-std::sqrt(sq) / cost_scale / reg);
        }
}

// The Sinkhorn iterations on K (n, m) and the argmax of each row of the plan.
std::vector<int> iterate(const double* K, size_t n, size_t m, int max_iter, double tol,
                         std::vector<double>* u_out, std::vector<double>* v_out) {
    const double a = 1.0 / (double)n, b = 1.0 / (double)m;
    std::vector<double> u(n, a), v(m, b), Ktu(m), Kv(n);
    for (int it = 0; it < max_iter; ++it) {
        for (size_t j = 0; j < m; ++j) Ktu[j] = 0;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) Ktu[j] += K[i * m + j] * u[i];
        for (size_t j = 0; j < m; ++j) v[j] = b / Ktu[j];
        for (size_t i = 0; i < n; ++i) {
            double s = 0;
            for (size_t j = 0; j < m; ++j) s += K[i * m + j] * v[j];
            Kv[i] = s;
            u[i] = a / s;
        }
        bool bad = false;
        for (size_t i = 0; i < n; ++i) bad = bad || !std::isfinite(u[i]);
        GPO_CHECK(!bad, "sinkhorn: numerical failure (underflow of exp(-cost/reg)); increase reg or cost_scale");
        if (it % 10 == 0) {  // column-marginal error of the current plan
            double err = 0;
            for (size_t j = 0; j < m; ++j) {
                double col = 0;
                for (size_t i = 0; i < n; ++i) col += u[i] * K[i * m + j];
                col *= v[j];
                err += (col - b) * (col - b);
            }
            if (std::sqrt(err) < tol) break;
        }
    }
    std::vector<int> match(n);
    for (size_t i = 0; i < n; ++i) {
        size_t best = 0;
        double bv = -1;
        for (size_t j = 0; j < m; ++j) {
            double g = K[i * m + j] * v[j];  // u_i is constant along the row
            if (g > bv) {
                bv = g;
                best = j;
            }
        }
        match[i] = (int)best;
    }
    if (u_out) *u_out = u;
    if (v_out) *v_out = v;
    return match;
}

}  // namespace

std::vector<int> sinkhorn_match(const std::vector<double>& src, const std::vector<double>& dst, int d, double reg,
                                double cost_scale, int max_iter, double tol, std::vector<double>* u_out,
                                std::vector<double>* v_out) {
    const size_t n = src.size() / d, m = dst.size() / d;
    GPO_CHECK(n > 0 && m > 0, "sinkhorn: empty source (" << n << ") or target (" << m << ")");
    GPO_CHECK(reg > 0, "sinkhorn: reg must be > 0");
    // K_ij = exp(-C_ij / reg), C_ij = |x_i - y_j| / cost_scale. Squared distances as |x|^2 + |y|^2 - 2 x.y with
    // one GEMM (the features are the perturbed genes: hundreds of columns at reference scale).
    std::vector<double> K(n * m);
    const std::vector<double> sx = row_sq_norms(src.data(), n, d), sy = row_sq_norms(dst.data(), m, d);
    cpu::gemm(false, true, (int)n, (int)m, d, -2.0, src.data(), dst.data(), 0.0, K.data());
    kernel_from_dots(K.data(), n, m, sx.data(), sy.data(), cost_scale, reg);
    return iterate(K.data(), n, m, max_iter, tol, u_out, v_out);
}

std::vector<std::vector<int>> sinkhorn_match_many(const std::vector<double>& src, const std::vector<size_t>& rows_of,
                                                  const std::vector<double>& dst, int d, double reg,
                                                  double cost_scale, int max_iter, double tol) {
    const size_t m = dst.size() / d;
    GPO_CHECK(m > 0, "sinkhorn: empty target");
    GPO_CHECK(reg > 0, "sinkhorn: reg must be > 0");
    size_t total = 0;
    for (size_t n : rows_of) {
        GPO_CHECK(n > 0, "sinkhorn: empty source");
        total += n;
    }
    GPO_CHECK(total * d == src.size(), "sinkhorn: " << src.size() / d << " source rows, the sources name " << total);
    const std::vector<double> sy = row_sq_norms(dst.data(), m, d);  // once for every source
    const std::vector<double> sx = row_sq_norms(src.data(), total, d);
    std::vector<std::vector<int>> out(rows_of.size());
    std::vector<double> dots;
    // Sources in consecutive groups of up to kRows rows (at least one source each): one GEMM per group, on the
    // group's rows of src where they lie.
    const size_t kRows = 512;
    size_t row0 = 0;  // first row of the group
    for (size_t s0 = 0; s0 < rows_of.size();) {
        size_t s1 = s0, rows = 0;
        while (s1 < rows_of.size() && (s1 == s0 || rows + rows_of[s1] <= kRows)) rows += rows_of[s1++];
        dots.assign(rows * m, 0.0);
        cpu::gemm(false, true, (int)rows, (int)m, d, -2.0, src.data() + row0 * d, dst.data(), 0.0, dots.data());
        size_t r0 = 0;
        for (size_t s = s0; s < s1; ++s) {
            const size_t n = rows_of[s];
            double* K = dots.data() + r0 * m;  // the source's rows of the GEMM output, turned into its kernel in place
            kernel_from_dots(K, n, m, sx.data() + row0 + r0, sy.data(), cost_scale, reg);
            out[s] = iterate(K, n, m, max_iter, tol, nullptr, nullptr);
            r0 += n;
        }
        row0 += rows;
        s0 = s1;
    }
    return out;
}

std::vector<size_t> match_blocks(size_t n, size_t m, double budget_bytes) {
    GPO_CHECK(budget_bytes > 0, "sinkhorn: the block budget must be > 0 bytes");
    if (n == 0) return {};
    const double row_bytes = (double)m * sizeof(double);
    const size_t max_rows = (size_t)std::max(1.0, std::floor(budget_bytes / std::max(row_bytes, 1.0)));
    const size_t blocks = (n + max_rows - 1) / max_rows;
    std::vector<size_t> sizes(blocks);
    for (size_t b = 0; b < blocks; ++b) sizes[b] = n * (b + 1) / blocks - n * b / blocks;
    return sizes;
}

}  // namespace gpo::data
