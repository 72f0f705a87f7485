// Sparse/GRN family: CSR dosage construction, dosage_gather against dense loops (one-hot, multi-hot, empty rows),
// K-hop GRN accumulation against plain-loop matrix powers (full rows and the "exact savings" row subset), mean L1;
// finite-difference gradient checks in double for every op.
#include <cmath>

#include "engine/ops/sparse.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

// Dense copy of a dosage for the independent reference: Dd[n][t].
std::vector<std::vector<double>> dense_of(const std::vector<std::vector<std::pair<int, double>>>& lists, int T) {
    std::vector<std::vector<double>> Dd(lists.size(), std::vector<double>(T, 0.0));
    for (size_t n = 0; n < lists.size(); ++n)
        for (const auto& e : lists[n]) Dd[n][e.first] += e.second;
    return Dd;
}

// 5 cells over T = 6: one-hot, multi-hot combination (two genes), control (empty), a repeat of column 1 with a
// non-unit dosage, and a triple. Column 3 and 5 are used by no cell.
const std::vector<std::vector<std::pair<int, double>>> kLists = {
    {{1, 1.0}}, {{0, 1.0}, {4, 1.0}}, {}, {{1, 0.5}}, {{0, 1.0}, {2, -2.0}, {4, 0.25}}};
const int kT = 6;

// S = sum_{k=1..K+1} A^k / T^(k-1) by plain loops (n x n, row-major).
std::vector<double> powers_reference(const std::vector<double>& A, int n, int K) {
    std::vector<double> S = A, P = A, Q(A.size());
    for (int k = 1; k <= K; ++k) {
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
                double s = 0;
                for (int l = 0; l < n; ++l) s += P[i * n + l] * A[l * n + j];
                Q[i * n + j] = s / n;
            }
        P = Q;
        for (size_t e = 0; e < S.size(); ++e) S[e] += P[e];
    }
    return S;
}

}  // namespace

TEST(GradSparse, DosageFromListsBuildsCsr) {
    ops::Dosage D = ops::Dosage::from_lists(kLists, kT, DType::F64);
    EXPECT_EQ(D.rows, 5);
    EXPECT_EQ(D.cols, kT);
    EXPECT_EQ(D.row_ptr.to_vector(), (std::vector<double>{0, 1, 3, 3, 4, 7}));
    EXPECT_EQ(D.col.to_vector(), (std::vector<double>{1, 0, 4, 1, 0, 2, 4}));
    EXPECT_EQ(D.val.to_vector(), (std::vector<double>{1, 1, 1, 0.5, 1, -2, 0.25}));
    ops::Dosage F = D.to_dtype(DType::F32).to(Device::CPU);
    EXPECT_EQ(F.val.dtype, DType::F32);
    EXPECT_EQ(F.val.to_vector(), D.val.to_vector());  // all values exactly representable in f32
    try {
        ops::Dosage::from_lists({{{6, 1.0}}}, kT, DType::F64);
        FAIL() << "expected an error for a column outside [0, T)";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("column 6"), std::string::npos) << e.what();
    }
}

TEST(GradSparse, DosageGatherForwardMatchesDenseLoops) {
    ops::Dosage D = ops::Dosage::from_lists(kLists, kT, DType::F64);
    auto Dd = dense_of(kLists, kT);
    const int P = 2, C = 3, B = (int)kLists.size();
    Tensor X3 = random_tensor({P, kT, C}, DType::F64, 21);
    Tape t;
    std::vector<double> out3 = t.value(ops::dosage_gather(t, t.constant(X3), D)).to_vector();
    ASSERT_EQ(out3.size(), (size_t)P * B * C);
    for (int p = 0; p < P; ++p)
        for (int n = 0; n < B; ++n)
            for (int c = 0; c < C; ++c) {
                double s = 0;
                for (int k = 0; k < kT; ++k) s += Dd[n][k] * X3.f64()[(p * kT + k) * C + c];
                EXPECT_NEAR(out3[(p * B + n) * C + c], s, 1e-14);  // same few products, maybe reordered
            }
    // (T, C) input gives (B, C): equal to the first particle of the batched product.
    Tensor X2 = X3.view(0, {kT, C});
    Tensor out2 = t.value(ops::dosage_gather(t, t.constant(X2), D));
    EXPECT_EQ(out2.shape, (Shape{B, C}));
    for (int i = 0; i < B * C; ++i) EXPECT_DOUBLE_EQ(out2.f64()[i], out3[i]);
    // The control row (n = 2) is exactly zero.
    for (int c = 0; c < C; ++c) EXPECT_EQ(out2.f64()[2 * C + c], 0.0);
}

TEST(GradSparse, DosageGatherGradient) {
    // Linear in X: finite differences are exact up to rounding.
    ops::Dosage D = ops::Dosage::from_lists(kLists, kT, DType::F64);
    test::expect_grad_matches(
        "dosage_gather (P, T, C)", [&](Tape& t, const std::vector<Var>& v) { return ops::dosage_gather(t, v[0], D); },
        {random_tensor({3, kT, 4}, DType::F64, 22)});
    test::expect_grad_matches(
        "dosage_gather (T, C)", [&](Tape& t, const std::vector<Var>& v) { return ops::dosage_gather(t, v[0], D); },
        {random_tensor({kT, 2}, DType::F64, 23)});
}

TEST(GradSparse, DosageGatherUnusedRowsGetZeroGradient) {
    ops::Dosage D = ops::Dosage::from_lists(kLists, kT, DType::F64);
    auto Dd = dense_of(kLists, kT);
    const int P = 2, C = 3, B = (int)kLists.size();
    Tape t;
    Var x = t.input(random_tensor({P, kT, C}, DType::F64, 24));
    Var y = ops::dosage_gather(t, x, D);
    Tensor seed = random_tensor({P, B, C}, DType::F64, 25);
    t.backward(y, seed);
    std::vector<double> g = t.grad(x).to_vector();
    for (int p = 0; p < P; ++p)
        for (int k = 0; k < kT; ++k)
            for (int c = 0; c < C; ++c) {
                double s = 0;  // (D^T seed)[k, c]
                for (int n = 0; n < B; ++n) s += Dd[n][k] * seed.f64()[(p * B + n) * C + c];
                double got = g[(p * kT + k) * C + c];
                if (k == 3 || k == 5) EXPECT_EQ(got, 0.0) << "column " << k << " is used by no cell";
                else EXPECT_NEAR(got, s, 1e-14);  // a few products summed, maybe in another order
            }
}

TEST(GradSparse, DosageGatherShapeErrorsNameTheOp) {
    ops::Dosage D = ops::Dosage::from_lists(kLists, kT, DType::F64);
    Tape t;
    try {
        ops::dosage_gather(t, t.constant(Tensor::zeros({kT + 1, 2}, DType::F64)), D);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("dosage_gather"), std::string::npos) << m;
        EXPECT_NE(m.find("[7, 2]"), std::string::npos) << m;
    }
    EXPECT_THROW(ops::dosage_gather(t, t.constant(Tensor::zeros({kT, 2}, DType::F32)), D), Error);  // dtype
}

TEST(GradSparse, GrnKhopFullRowsMatchesPowerLoops) {
    const int n = 7;
    Tensor A = random_tensor({n, n}, DType::F64, 31, -2.0, 2.0);
    std::vector<int32_t> all(n);
    for (int i = 0; i < n; ++i) all[i] = i;
    Tensor rows = Tensor::from_ints({n}, all);
    for (int K : {0, 1, 5}) {
        std::vector<double> ref = powers_reference(A.to_vector(), n, K);
        Tape t;
        std::vector<double> got = t.value(ops::grn_khop_rows(t, t.constant(A), rows, K)).to_vector();
        ASSERT_EQ(got.size(), ref.size());
        for (size_t e = 0; e < ref.size(); ++e)
            EXPECT_NEAR(got[e], ref[e], 1e-12 * (1 + std::fabs(ref[e])))  // same sums, BLAS may reorder
                << "K=" << K << " element " << e;
    }
}

TEST(GradSparse, GrnKhopSubsetEqualsRowsOfFull) {
    // "Exact savings": the rows of the accumulation for a subset equal those rows of the full T x T result.
    const int n = 9, K = 5;
    Tensor A = random_tensor({n, n}, DType::F64, 32, -2.0, 2.0);
    std::vector<double> full = powers_reference(A.to_vector(), n, K);
    std::vector<int32_t> sub = {7, 2, 7, 0};  // repeated row on purpose
    Tape t;
    Tensor S = t.value(ops::grn_khop_rows(t, t.constant(A), Tensor::from_ints({4}, sub), K));
    ASSERT_EQ(S.shape, (Shape{4, n}));
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < n; ++j)
            EXPECT_NEAR(S.f64()[i * n + j], full[sub[i] * n + j], 1e-12 * (1 + std::fabs(full[sub[i] * n + j])))
                << "subset row " << i << " (A row " << sub[i] << "), column " << j;  // rounding only
}

TEST(GradSparse, GrnKhopGradient) {
    // Polynomial in A (no kinks). Repeated rows check the accumulation of dA[rows, :] += dR_1.
    Tensor sub = Tensor::from_ints({3}, {2, 0, 2});
    for (int K : {0, 1, 3}) {
        test::expect_grad_matches(
            "grn_khop_rows subset K=" + std::to_string(K),
            [&](Tape& t, const std::vector<Var>& v) { return ops::grn_khop_rows(t, v[0], sub, K); },
            {random_tensor({4, 4}, DType::F64, 33)});
    }
    Tensor all = Tensor::from_ints({5}, {0, 1, 2, 3, 4});
    test::expect_grad_matches(
        "grn_khop_rows full K=5",
        [&](Tape& t, const std::vector<Var>& v) { return ops::grn_khop_rows(t, v[0], all, 5); },
        {random_tensor({5, 5}, DType::F64, 34, -1.5, 1.5)});
}

TEST(GradSparse, GrnKhopRejectsBadRows) {
    Tape t;
    Var a = t.constant(Tensor::zeros({3, 3}, DType::F64));
    EXPECT_THROW(ops::grn_khop_rows(t, a, Tensor::from_ints({1}, {3}), 2), Error);   // row outside [0, T)
    EXPECT_THROW(ops::grn_khop_rows(t, t.constant(Tensor::zeros({3, 2}, DType::F64)), Tensor::from_ints({1}, {0}), 2),
                 Error);  // not square
}

TEST(GradSparse, L1LossMeanForwardAndGradient) {
    // pred - target is kept >= 0.1 in magnitude (no kink within the finite-difference step).
    const int64_t n = 12;
    std::vector<double> p(n), q(n);
    Tensor r = random_tensor({n}, DType::F64, 41, 0.1, 1.0);
    for (int64_t i = 0; i < n; ++i) {
        q[i] = 0.3 * (double)i - 1.0;
        p[i] = q[i] + (i % 2 ? 1.0 : -1.0) * r.f64()[i];
    }
    Tensor pred = Tensor::from_vector({3, 4}, p, DType::F64), target = Tensor::from_vector({3, 4}, q, DType::F64);
    double ref = 0;
    for (int64_t i = 0; i < n; ++i) ref += std::fabs(p[i] - q[i]);
    ref /= n;
    Tape t;
    Var out = ops::l1_loss_mean(t, t.constant(pred), target);
    EXPECT_EQ(t.value(out).shape, (Shape{1}));
    EXPECT_NEAR(t.value(out).item(), ref, 1e-15);  // 12 terms in double
    test::expect_grad_matches(
        "l1_loss_mean", [&](Tape& tp, const std::vector<Var>& v) { return ops::l1_loss_mean(tp, v[0], target); },
        {pred});
}

TEST(GradSparse, L1LossMeanGradientIsSignOverNAndZeroAtTies) {
    Tensor pred = Tensor::from_vector({4}, {1.0, -2.0, 0.5, 3.0}, DType::F64);
    Tensor target = Tensor::from_vector({4}, {0.0, 0.0, 0.5, 5.0}, DType::F64);
    Tape t;
    Var x = t.input(pred);
    Var loss = ops::l1_loss_mean(t, x, target);
    EXPECT_DOUBLE_EQ(t.value(loss).item(), (1.0 + 2.0 + 0.0 + 2.0) / 4);
    t.backward(loss);
    std::vector<double> g = t.grad(x).to_vector();
    EXPECT_EQ(g, (std::vector<double>{0.25, -0.25, 0.0, -0.25}));  // sign / n, exact in binary
}

// The whole GRN-aligned loss of docs/model.md §4.4 as the model composes it: S rows of the present perturbations,
// d S per cell (combinations add), then mean |d S - (delta - tau)|. Finite differences w.r.t. A in double.
TEST(GradSparse, GrnLossCompositionGradient) {
    const int T = 5;
    Tensor A = random_tensor({T, T}, DType::F64, 61, -1, 1);
    Tensor rows = Tensor::from_ints({3}, {0, 2, 3});  // present perturbations
    // 4 cells over the 3 present rows: one-hot, a combination, a control, one-hot.
    ops::Dosage D = ops::Dosage::from_lists({{{0, 1.0}}, {{1, 1.0}, {2, 1.0}}, {}, {{2, 1.0}}}, 3, DType::F64);
    Tensor target = random_tensor({4, T}, DType::F64, 62, -0.5, 0.5);
    {  // the L1 kink at pred == target must be far from every entry for central differences to apply
        Tape t;
        std::vector<double> pred = t.value(ops::dosage_gather(t, ops::grn_khop_rows(t, t.constant(A), rows, 5), D)).to_vector();
        std::vector<double> tg = target.to_vector();
        for (size_t k = 0; k < pred.size(); ++k) ASSERT_GT(std::fabs(pred[k] - tg[k]), 1e-4) << k;
    }
    test::expect_grad_matches(
        "grn loss composition",
        [&](Tape& t, const std::vector<Var>& v) {
            Var S = ops::grn_khop_rows(t, v[0], rows, 5);
            return ops::l1_loss_mean(t, ops::dosage_gather(t, S, D), target);
        },
        {A}, 1e-7, 1e-6);  // smooth here (checked above); double-precision differences are accurate to ~1e-10
}
