// Sinkhorn matching (see sinkhorn.h). Plain double loops: the per-label problems are small (cells of one
// perturbation in one split against that split's controls).
#include "engine/data/sinkhorn.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "kernels/cpu/linear.h"

namespace gpo::data {

std::vector<int> sinkhorn_match(const std::vector<double>& src, const std::vector<double>& dst, int d, double reg,
                                double cost_scale, int max_iter, double tol, std::vector<double>* u_out,
                                std::vector<double>* v_out) {
    const size_t n = src.size() / d, m = dst.size() / d;
    GPO_CHECK(n > 0 && m > 0, "sinkhorn: empty source (" << n << ") or target (" << m << ")");
    GPO_CHECK(reg > 0, "sinkhorn: reg must be > 0");
    // K_ij = exp(-C_ij / reg), C_ij = |x_i - y_j| / cost_scale. Squared distances as |x|^2 + |y|^2 - 2 x.y with
    // one GEMM (the features are the perturbed genes: hundreds of columns at reference scale).
    std::vector<double> K(n * m), sx(n, 0.0), sy(m, 0.0);
    // Accumulated in a local (the same sums in the same order as into the array, without a store per term).
    auto sq_norm = [d](const double* x) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += x[k] * x[k];
        return s;
    };
    for (size_t i = 0; i < n; ++i) sx[i] = sq_norm(src.data() + i * d);
    for (size_t j = 0; j < m; ++j) sy[j] = sq_norm(dst.data() + j * d);
    cpu::gemm(false, true, (int)n, (int)m, d, -2.0, src.data(), dst.data(), 0.0, K.data());
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < m; ++j) {
            double sq = std::max(0.0, K[i * m + j] + sx[i] + sy[j]);  // rounding can dip below 0 for equal rows
            K[i * m + j] = std::exp(-std::sqrt(sq) / cost_scale / reg);
        }
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

}  // namespace gpo::data
