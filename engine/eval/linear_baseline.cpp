// The linear baseline of Ahlmann-Eltze et al. (see linear_baseline.h), in double precision: the principal
// components from the symmetric eigenproblem of the C x C Gram matrix (LAPACK dsyev, in OpenBLAS), the two K x K
// ridge systems by Gaussian elimination.
#include "engine/eval/linear_baseline.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"

extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                       double* work, const int* lwork, int* info);

namespace gpo::eval {

namespace {

// Solves (M) X = R for X in place of R: M (n x n) symmetric positive definite, R (n x m), both row-major.
void solve_spd(std::vector<double> M, std::vector<double>& R, int n, int m) {
    for (int k = 0; k < n; ++k) {  // Gaussian elimination without pivoting (M is SPD: diagonal > 0)
        const double piv = M[k * n + k];
        GPO_CHECK(piv > 0, "linear baseline: singular ridge system");
        for (int i = k + 1; i < n; ++i) {
            const double f = M[i * n + k] / piv;
            if (f == 0) continue;
            for (int j = k; j < n; ++j) M[i * n + j] -= f * M[k * n + j];
            for (int j = 0; j < m; ++j) R[i * m + j] -= f * R[k * m + j];
        }
    }
    for (int k = n - 1; k >= 0; --k) {
        for (int j = 0; j < m; ++j) {
            double s = R[k * m + j];
            for (int i = k + 1; i < n; ++i) s -= M[k * n + i] * R[i * m + j];
            R[k * m + j] = s / M[k * n + k];
        }
    }
}

// The first K principal-component scores (genes x K, row-major) of X (genes x C, column c = conds[c]), each column
// centred over the genes: scores = Xc V with V the top eigenvectors of Xc' Xc.
std::vector<double> gene_embedding(const std::vector<const std::vector<double>*>& cols, int64_t G, int K) {
    const int C = (int)cols.size();
    std::vector<double> Xc((size_t)(G * C));  // genes x C, row-major
    for (int c = 0; c < C; ++c) {
        double mean = 0;
        for (int64_t g = 0; g < G; ++g) mean += (*cols[c])[g];
        mean /= (double)G;
        for (int64_t g = 0; g < G; ++g) Xc[g * C + c] = (*cols[c])[g] - mean;
    }
    std::vector<double> S((size_t)C * C, 0.0);  // Xc' Xc (symmetric; column-major = row-major)
    for (int64_t g = 0; g < G; ++g) {
        const double* row = &Xc[g * C];
        for (int a = 0; a < C; ++a)
            for (int b = a; b < C; ++b) S[a * C + b] += row[a] * row[b];
    }
    for (int a = 0; a < C; ++a)
        for (int b = 0; b < a; ++b) S[a * C + b] = S[b * C + a];
    std::vector<double> w(C);
    int lwork = -1, info = 0;
    double query = 0;
    dsyev_("V", "U", &C, S.data(), &C, w.data(), &query, &lwork, &info);
    lwork = std::max(1, (int)query);
    std::vector<double> work((size_t)lwork);
    dsyev_("V", "U", &C, S.data(), &C, w.data(), work.data(), &lwork, &info);
    GPO_CHECK(info == 0, "linear baseline: the eigen decomposition failed (LAPACK dsyev info " << info << ")");
    // Eigenvalues ascending; eigenvector j is column j (column-major): S[j * C + i] = v_j[i].
    std::vector<double> scores((size_t)(G * K), 0.0);
    for (int k = 0; k < K; ++k) {
        const int j = C - 1 - k;
        const double* v = &S[(size_t)j * C];
        for (int64_t g = 0; g < G; ++g) {
            double s = 0;
            for (int c = 0; c < C; ++c) s += Xc[g * C + c] * v[c];
            scores[g * K + k] = s;
        }
    }
    return scores;
}

}  // namespace

LinearBaseline linear_baseline(const LinearBaselineInput& in, const std::vector<std::string>& queries) {
    auto ctrl_it = in.train.find(in.control_label);
    GPO_CHECK(ctrl_it != in.train.end(), "linear baseline: no training profile of the control " << in.control_label);
    const std::vector<double>& b = ctrl_it->second;
    const int64_t G = (int64_t)b.size();
    auto target_of = [&](const std::string& label) -> int64_t {
        auto it = in.target_gene.find(label);
        return it == in.target_gene.end() || it->second < 0 || it->second >= G ? -1 : it->second;
    };
    std::vector<const std::vector<double>*> cols;
    for (const auto& [label, v] : in.train) {
        GPO_CHECK((int64_t)v.size() == G, "linear baseline: profile of " << label << " has " << v.size()
                                                                        << " genes, expected " << G);
        cols.push_back(&v);
    }
    const int K = std::max(1, std::min<int>(in.components, (int)cols.size() - 1));
    const std::vector<double> A = gene_embedding(cols, G, K);  // genes x K
    auto embedding = [&](int64_t gene, double* e) {             // e (K): the gene's row of A, zeros for none
        for (int k = 0; k < K; ++k) e[k] = gene >= 0 ? A[gene * K + k] : 0.0;
    };

    // The fitted conditions: the control (zero embedding) and the single perturbations of measured genes.
    std::vector<const std::vector<double>*> fit;
    std::vector<std::vector<double>> Bcols;  // the embedding of each fitted condition (K each)
    for (const auto& [label, v] : in.train) {
        const int64_t gene = label == in.control_label ? -1 : target_of(label);
        if (label != in.control_label && gene < 0) continue;
        fit.push_back(&v);
        std::vector<double> e(K);
        embedding(gene, e.data());
        Bcols.push_back(e);
    }
    const int F = (int)fit.size();
    LinearBaseline out;
    out.fitted_conditions = F;
    if (F < 2) {  // nothing to fit (the paper's code stops): the model of the control alone predicts no change
        for (const std::string& q : queries) out.predicted[q] = b;
        return out;
    }
    // Y - m, the change relative to the control centred over the fitted conditions.
    std::vector<double> m((size_t)G, 0.0), Yc((size_t)(G * F));
    for (int f = 0; f < F; ++f)
        for (int64_t g = 0; g < G; ++g) m[g] += ((*fit[f])[g] - b[g]) / (double)F;
    for (int f = 0; f < F; ++f)
        for (int64_t g = 0; g < G; ++g) Yc[g * F + f] = (*fit[f])[g] - b[g] - m[g];
    // Z = G' Yc P'  (K x K), then W = (G'G + l I)^-1 Z (P P' + l I)^-1.
    std::vector<double> AtY((size_t)K * F, 0.0);  // K x F
    for (int64_t g = 0; g < G; ++g)
        for (int k = 0; k < K; ++k) {
            const double a = A[g * K + k];
            for (int f = 0; f < F; ++f) AtY[k * F + f] += a * Yc[g * F + f];
        }
    std::vector<double> Z((size_t)K * K, 0.0);
    for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j)
            for (int f = 0; f < F; ++f) Z[i * K + j] += AtY[i * F + f] * Bcols[f][j];
    std::vector<double> AtA((size_t)K * K, 0.0), BBt((size_t)K * K, 0.0);
    for (int64_t g = 0; g < G; ++g)
        for (int i = 0; i < K; ++i)
            for (int j = 0; j < K; ++j) AtA[i * K + j] += A[g * K + i] * A[g * K + j];
    for (int f = 0; f < F; ++f)
        for (int i = 0; i < K; ++i)
            for (int j = 0; j < K; ++j) BBt[i * K + j] += Bcols[f][i] * Bcols[f][j];
    for (int i = 0; i < K; ++i) AtA[i * K + i] += in.ridge, BBt[i * K + i] += in.ridge;
    solve_spd(AtA, Z, K, K);  // Z <- (G'G + l I)^-1 Z
    // W = Z (P P' + l I)^-1  <=>  (P P' + l I) W' = Z' (the matrix is symmetric).
    std::vector<double> Wt((size_t)K * K);
    for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) Wt[i * K + j] = Z[j * K + i];
    solve_spd(BBt, Wt, K, K);

    std::vector<double> e(K), We(K);
    for (const std::string& q : queries) {
        const int64_t gene = q == in.control_label ? -1 : target_of(q);
        embedding(gene, e.data());
        if (gene >= 0) out.embedded.push_back(q);
        for (int i = 0; i < K; ++i) {  // W e = sum_j W[i][j] e[j] = sum_j Wt[j][i] e[j]
            We[i] = 0;
            for (int j = 0; j < K; ++j) We[i] += Wt[j * K + i] * e[j];
        }
        std::vector<double> p((size_t)G);
        for (int64_t g = 0; g < G; ++g) {
            double s = m[g] + b[g];
            for (int k = 0; k < K; ++k) s += A[g * K + k] * We[k];
            p[g] = s;
        }
        out.predicted[q] = std::move(p);
    }
    return out;
}

}  // namespace gpo::eval
