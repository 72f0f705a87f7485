// Finite-difference gradient checks (double) of matmul with every transpose combination, bias add and linear.
#include "engine/ops/linear.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

TEST(GradLinear, MatmulAllTransposes) {
    const int64_t M = 3, K = 4, N = 5;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            Tensor A = random_tensor(ta ? Shape{K, M} : Shape{M, K}, DType::F64, 1);
            Tensor B = random_tensor(tb ? Shape{N, K} : Shape{K, N}, DType::F64, 2);
            test::expect_grad_matches(
                "matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                [&](Tape& t, const std::vector<Var>& v) { return ops::matmul(t, v[0], v[1], ta, tb); }, {A, B});
        }
}

TEST(GradLinear, MatmulForwardMatchesLoops) {
    Tensor A = random_tensor({2, 3}, DType::F64, 3), B = random_tensor({3, 4}, DType::F64, 4);
    Tape t;
    Tensor C = t.value(ops::matmul(t, t.constant(A), t.constant(B)));
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j) {
            double s = 0;
            for (int k = 0; k < 3; ++k) s += A.f64()[i * 3 + k] * B.f64()[k * 4 + j];
            EXPECT_NEAR(C.f64()[i * 4 + j], s, 1e-12);  // same sums, BLAS may reorder: rounding only
        }
}

TEST(GradLinear, BiasAddAndLinear) {
    Tensor x = random_tensor({4, 3}, DType::F64, 5), W = random_tensor({2, 3}, DType::F64, 6),
           b = random_tensor({2}, DType::F64, 7);
    test::expect_grad_matches("bias_add", [](Tape& t, const std::vector<Var>& v) { return ops::bias_add(t, v[0], v[1]); },
                              {random_tensor({4, 3}, DType::F64, 8), random_tensor({3}, DType::F64, 9)});
    test::expect_grad_matches(
        "linear", [](Tape& t, const std::vector<Var>& v) { return ops::linear(t, v[0], v[1], v[2]); }, {x, W, b});
}

TEST(GradLinear, ShapeMismatchNamesOpAndShapes) {
    Tape t;
    Var a = t.constant(Tensor::zeros({2, 3}, DType::F64)), b = t.constant(Tensor::zeros({4, 5}, DType::F64));
    try {
        ops::matmul(t, a, b);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("matmul"), std::string::npos) << m;
        EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
        EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
    }
}
