// Tape ops, distributions family (kernels: kernels/cpu/distributions.h, kernels/cpu/nb.h,
// kernels/cuda/distributions.cu, kernels/cuda/nb.cu): Gaussian sample/log-density/KL, Bernoulli log-pmf,
// straight-through relaxed-Bernoulli mask, and the NB likelihood fused with the softmax.
#include "engine/ops/distributions.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "engine/ops/dispatch.h"
#include "kernels/cpu/distributions.h"
#include "kernels/cpu/nb.h"
#include "kernels/cpu/nb_f32.h"
#include "kernels/cuda/distributions.h"
#include "kernels/cuda/nb.h"

namespace gpo::ops {

namespace {

// Typed data pointer of a gradient target (nullptr when the input needs no gradient).
template <class T>
T* gptr(Tensor* g) {
    return g ? g->ptr<T>() : nullptr;
}

[[maybe_unused]] float* gf32(Tensor* g) { return g ? g->f32() : nullptr; }

void check_same_shape(const char* op, const char* what, const Tensor& t, const Tensor& ref, const char* ref_name) {
    GPO_CHECK(t.shape == ref.shape, "op " << op << ": " << what << " is " << shape_str(t.shape) << " but " << ref_name
                                          << " is " << shape_str(ref.shape) << " (shapes must be equal)");
}

// logits shape must equal value's shape or value's trailing dims; returns the number of copies P.
int64_t broadcast_copies(const char* op, const Tensor& value, const Tensor& logits) {
    bool ok = logits.ndim() <= value.ndim();
    for (int i = 1; ok && i <= logits.ndim(); ++i) ok = logits.dim(-i) == value.dim(-i);
    GPO_CHECK(ok, "op " << op << ": logits " << shape_str(logits.shape) << " must equal value "
                        << shape_str(value.shape) << " or its trailing dims");
    return logits.numel() == 0 ? 0 : value.numel() / logits.numel();
}

}  // namespace

// ---------------------------------------------------------------------------- Gaussian
Var gaussian_sample(Tape& tape, Var mu, Var scale, const Tensor& eps) {
    const char* op = "gaussian_sample";
    const Tensor& M = tape.value(mu);
    const Tensor& S = tape.value(scale);
    check_same_kind(op, {&M, &S, &eps});
    check_same_shape(op, "scale", S, M, "mu");
    check_same_shape(op, "eps", eps, M, "mu");
    int64_t n = M.numel();
    Tensor Z = Tensor::empty(M.shape, M.dtype, M.device);
    if (Z.is_cuda()) {
        GPO_CUDA(cuda::gaussian_sample_forward(Z.f32(), M.f32(), S.f32(), eps.f32(), n));
    } else {
        dispatch_cpu(Z, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::gaussian_sample_forward<T>(Z.ptr<T>(), M.ptr<T>(), S.ptr<T>(), eps.ptr<T>(), n);
        });
    }
    return tape.record(op, Z, {mu, scale}, [mu, scale, eps, n](Tape& t, const Tensor& dZ) {
        Tensor* dM = t.grad_target(mu);
        Tensor* dS = t.grad_target(scale);
        if (dZ.is_cuda()) {
            GPO_CUDA(cuda::gaussian_sample_backward(gf32(dM), gf32(dS), dZ.f32(), eps.f32(), n));
        } else {
            dispatch_cpu(dZ, "gaussian_sample", [&](auto tag) {
                using T = decltype(tag);
                cpu::gaussian_sample_backward<T>(gptr<T>(dM), gptr<T>(dS), dZ.ptr<T>(), eps.ptr<T>(), n);
            });
        }
    });
}

Var gaussian_log_prob(Tape& tape, Var x, Var mu, Var scale) {
    const char* op = "gaussian_log_prob";
    const Tensor& X = tape.value(x);
    const Tensor& M = tape.value(mu);
    const Tensor& S = tape.value(scale);
    check_same_kind(op, {&X, &M, &S});
    check_same_shape(op, "mu", M, X, "x");
    check_same_shape(op, "scale", S, X, "x");
    int64_t n = X.numel();
    Tensor LP = Tensor::empty(X.shape, X.dtype, X.device);
    if (LP.is_cuda()) {
        GPO_CUDA(cuda::gaussian_log_prob_forward(LP.f32(), X.f32(), M.f32(), S.f32(), n));
    } else {
        dispatch_cpu(LP, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::gaussian_log_prob_forward<T>(LP.ptr<T>(), X.ptr<T>(), M.ptr<T>(), S.ptr<T>(), n);
        });
    }
    return tape.record(op, LP, {x, mu, scale}, [x, mu, scale, n](Tape& t, const Tensor& dLP) {
        const Tensor& X = t.value(x);
        const Tensor& M = t.value(mu);
        const Tensor& S = t.value(scale);
        Tensor* dX = t.grad_target(x);
        Tensor* dM = t.grad_target(mu);
        Tensor* dS = t.grad_target(scale);
        if (dLP.is_cuda()) {
            GPO_CUDA(cuda::gaussian_log_prob_backward(gf32(dX), gf32(dM), gf32(dS), dLP.f32(), X.f32(), M.f32(),
                                                      S.f32(), n));
        } else {
            dispatch_cpu(dLP, "gaussian_log_prob", [&](auto tag) {
                using T = decltype(tag);
                cpu::gaussian_log_prob_backward<T>(gptr<T>(dX), gptr<T>(dM), gptr<T>(dS), dLP.ptr<T>(), X.ptr<T>(),
                                                   M.ptr<T>(), S.ptr<T>(), n);
            });
        }
    });
}

Var std_normal_log_prob(Tape& tape, Var x) {
    const char* op = "std_normal_log_prob";
    const Tensor& X = tape.value(x);
    check_same_kind(op, {&X});
    int64_t n = X.numel();
    Tensor LP = Tensor::empty(X.shape, X.dtype, X.device);
    if (LP.is_cuda()) {
        GPO_CUDA(cuda::std_normal_log_prob_forward(LP.f32(), X.f32(), n));
    } else {
        dispatch_cpu(LP, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::std_normal_log_prob_forward<T>(LP.ptr<T>(), X.ptr<T>(), n);
        });
    }
    return tape.record(op, LP, {x}, [x, n](Tape& t, const Tensor& dLP) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        const Tensor& X = t.value(x);
        if (dLP.is_cuda()) {
            GPO_CUDA(cuda::std_normal_log_prob_backward(dX->f32(), dLP.f32(), X.f32(), n));
        } else {
            dispatch_cpu(dLP, "std_normal_log_prob", [&](auto tag) {
                using T = decltype(tag);
                cpu::std_normal_log_prob_backward<T>(dX->ptr<T>(), dLP.ptr<T>(), X.ptr<T>(), n);
            });
        }
    });
}

Var gaussian_kl(Tape& tape, Var mu1, Var s1, Var mu2, Var s2) {
    const char* op = "gaussian_kl";
    const Tensor& M1 = tape.value(mu1);
    const Tensor& S1 = tape.value(s1);
    const Tensor& M2 = tape.value(mu2);
    const Tensor& S2 = tape.value(s2);
    check_same_kind(op, {&M1, &S1, &M2, &S2});
    check_same_shape(op, "s1", S1, M1, "mu1");
    check_same_shape(op, "mu2", M2, M1, "mu1");
    check_same_shape(op, "s2", S2, M1, "mu1");
    int64_t n = M1.numel();
    Tensor KL = Tensor::empty(M1.shape, M1.dtype, M1.device);
    if (KL.is_cuda()) {
        GPO_CUDA(cuda::gaussian_kl_forward(KL.f32(), M1.f32(), S1.f32(), M2.f32(), S2.f32(), n));
    } else {
        dispatch_cpu(KL, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::gaussian_kl_forward<T>(KL.ptr<T>(), M1.ptr<T>(), S1.ptr<T>(), M2.ptr<T>(), S2.ptr<T>(), n);
        });
    }
    return tape.record(op, KL, {mu1, s1, mu2, s2}, [mu1, s1, mu2, s2, n](Tape& t, const Tensor& dKL) {
        const Tensor& M1 = t.value(mu1);
        const Tensor& S1 = t.value(s1);
        const Tensor& M2 = t.value(mu2);
        const Tensor& S2 = t.value(s2);
        Tensor* dM1 = t.grad_target(mu1);
        Tensor* dS1 = t.grad_target(s1);
        Tensor* dM2 = t.grad_target(mu2);
        Tensor* dS2 = t.grad_target(s2);
        if (dKL.is_cuda()) {
            GPO_CUDA(cuda::gaussian_kl_backward(gf32(dM1), gf32(dS1), gf32(dM2), gf32(dS2), dKL.f32(), M1.f32(),
                                                S1.f32(), M2.f32(), S2.f32(), n));
        } else {
            dispatch_cpu(dKL, "gaussian_kl", [&](auto tag) {
                using T = decltype(tag);
                cpu::gaussian_kl_backward<T>(gptr<T>(dM1), gptr<T>(dS1), gptr<T>(dM2), gptr<T>(dS2), dKL.ptr<T>(),
                                             M1.ptr<T>(), S1.ptr<T>(), M2.ptr<T>(), S2.ptr<T>(), n);
            });
        }
    });
}

// ---------------------------------------------------------------------------- Bernoulli
Var bernoulli_log_prob(Tape& tape, Var value, Var logits, bool clamp_probs) {
    const char* op = "bernoulli_log_prob";
    const Tensor& V = tape.value(value);
    const Tensor& L = tape.value(logits);
    check_same_kind(op, {&V, &L});
    broadcast_copies(op, V, L);
    int64_t N = V.numel(), n = L.numel();
    Tensor LP = Tensor::empty(V.shape, V.dtype, V.device);
    if (LP.is_cuda()) {
        GPO_CUDA(cuda::bernoulli_log_prob_forward(LP.f32(), V.f32(), L.f32(), N, n, clamp_probs));
    } else {
        dispatch_cpu(LP, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::bernoulli_log_prob_forward<T>(LP.ptr<T>(), V.ptr<T>(), L.ptr<T>(), N, n, clamp_probs);
        });
    }
    return tape.record(op, LP, {value, logits}, [value, logits, N, n, clamp_probs](Tape& t, const Tensor& dLP) {
        const Tensor& V = t.value(value);
        const Tensor& L = t.value(logits);
        Tensor* dV = t.grad_target(value);
        Tensor* dL = t.grad_target(logits);
        if (dLP.is_cuda()) {
            GPO_CUDA(cuda::bernoulli_log_prob_backward(gf32(dV), gf32(dL), dLP.f32(), V.f32(), L.f32(), N, n,
                                                       clamp_probs));
        } else {
            dispatch_cpu(dLP, "bernoulli_log_prob", [&](auto tag) {
                using T = decltype(tag);
                cpu::bernoulli_log_prob_backward<T>(gptr<T>(dV), gptr<T>(dL), dLP.ptr<T>(), V.ptr<T>(), L.ptr<T>(),
                                                    N, n, clamp_probs);
            });
        }
    });
}

Var relaxed_bernoulli_st(Tape& tape, Var logits, const Tensor& u, double temperature) {
    const char* op = "relaxed_bernoulli_st";
    const Tensor& W = tape.value(logits);
    check_same_kind(op, {&W, &u});
    check_ndim(op, "logits", W, 2);
    check_ndim(op, "u", u, 3);
    GPO_CHECK(u.dim(1) == W.dim(0) && u.dim(2) == W.dim(1),
              "op " << op << ": u " << shape_str(u.shape) << " must be (P, T, C) for logits " << shape_str(W.shape));
    GPO_CHECK(temperature > 0, "op " << op << ": temperature must be > 0, got " << temperature);
    int64_t P = u.dim(0), n = W.numel();
    Tensor Mk = Tensor::empty(u.shape, u.dtype, u.device);
    if (Mk.is_cuda()) {
        GPO_CUDA(cuda::relaxed_bernoulli_st_forward(Mk.f32(), W.f32(), u.f32(), (float)temperature, P, n));
    } else {
        dispatch_cpu(Mk, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::relaxed_bernoulli_st_forward<T>(Mk.ptr<T>(), W.ptr<T>(), u.ptr<T>(), (T)temperature, P, n);
        });
    }
    return tape.record(op, Mk, {logits}, [logits, u, temperature, P, n](Tape& t, const Tensor& dM) {
        Tensor* dW = t.grad_target(logits);
        if (!dW) return;
        const Tensor& W = t.value(logits);
        if (dM.is_cuda()) {
            GPO_CUDA(cuda::relaxed_bernoulli_st_backward(dW->f32(), dM.f32(), W.f32(), u.f32(), (float)temperature,
                                                         P, n));
        } else {
            dispatch_cpu(dM, "relaxed_bernoulli_st", [&](auto tag) {
                using T = decltype(tag);
                cpu::relaxed_bernoulli_st_backward<T>(dW->ptr<T>(), dM.ptr<T>(), W.ptr<T>(), u.ptr<T>(),
                                                      (T)temperature, P, n);
            });
        }
    });
}

// ---------------------------------------------------------------------------- NB likelihood with softmax
// Rows per chunk on the engine's threads: about kElementGrain elements, at least one row.
static int64_t nb_row_grain(int64_t G) { return std::max<int64_t>(1, kElementGrain / G); }

// The count parts of the NB terms (lgamma, or digamma for the backward), once per cell, when several rows
// (particles) share each cell (R > B): the same values the rows would compute, R / B times fewer calls. Empty when
// every row has its own cell.
template <class T>
static std::vector<T> nb_shared_count_parts(const Tensor& counts, const std::vector<T>& c, int64_t R, int64_t B,
                                            int64_t G, bool digamma_part) {
    if (R <= B) return {};
    std::vector<T> part((size_t)(B * G));
    parallel_ranges(B, nb_row_grain(G), [&](int64_t b0, int64_t b1) {
        cpu::nb_count_parts<T>(part.data(), counts.ptr<T>(), c.data(), b0, b1, G, digamma_part);
    });
    return part;
}

Var nb_log_prob_softmax(Tape& tape, Var logits, Var log_theta, const Tensor& counts, const Tensor& library) {
    const char* op = "nb_log_prob_softmax";
    const Tensor& L = tape.value(logits);
    const Tensor& LT = tape.value(log_theta);
    check_same_kind(op, {&L, &LT, &counts, &library});
    check_ndim(op, "logits", L, 2);
    check_ndim(op, "counts", counts, 2);
    int64_t R = L.dim(0), G = L.dim(1), B = counts.dim(0);
    GPO_CHECK(G > 0, "op " << op << ": logits " << shape_str(L.shape) << " has no genes");
    check_shape(op, "log_theta", LT, {G});
    GPO_CHECK(counts.dim(1) == G && B > 0 && R % B == 0,
              "op " << op << ": counts " << shape_str(counts.shape) << " must be (B, G) with B dividing the rows of "
                    << "logits " << shape_str(L.shape));
    check_shape(op, "library", library, {B});
    Tensor out = Tensor::empty({R}, L.dtype, L.device);
    Tensor lse = Tensor::empty({R}, L.dtype, L.device);  // row log-sum-exp, kept for the backward
    if (out.is_cuda()) {
        GPO_CUDA(cuda::nb_log_prob_softmax_forward(out.f32(), lse.f32(), L.f32(), LT.f32(), counts.f32(),
                                                   library.f32(), R, B, G));
    } else {
        dispatch_cpu(out, op, [&](auto tag) {
            using T = decltype(tag);
            std::vector<T> c = cpu::nb_dispersion(LT.ptr<T>(), G);
            const std::vector<T> lg = nb_shared_count_parts<T>(counts, c, R, B, G, false);
            parallel_ranges(R, nb_row_grain(G), [&](int64_t r0, int64_t r1) {
                if constexpr (std::is_same_v<T, float>)  // vectorised exp/log (kernels/cpu/nb_f32.h)
                    cpu::nb_forward_rows_f32(out.f32(), lse.f32(), L.f32(), c.data(), counts.f32(), library.f32(), r0,
                                             r1, B, G, lg.empty() ? nullptr : lg.data());
                else
                    cpu::nb_log_prob_softmax_forward_rows<T>(out.ptr<T>(), lse.ptr<T>(), L.ptr<T>(), c.data(),
                                                             counts.ptr<T>(), library.ptr<T>(), r0, r1, B, G,
                                                             lg.empty() ? nullptr : lg.data());
            });
        });
    }
    return tape.record(op, out, {logits, log_theta},
                       [logits, log_theta, counts, library, lse, R, B, G](Tape& t, const Tensor& dout) {
        const Tensor& L = t.value(logits);
        const Tensor& LT = t.value(log_theta);
        Tensor* dL = t.grad_target(logits);
        Tensor* dLT = t.grad_target(log_theta);
        if (!dL && !dLT) return;
        if (dout.is_cuda()) {
#ifdef GPO_WITH_CUDA
            Tensor scratch;  // per-block partial rows of the log_theta gradient
            if (dLT) scratch = Tensor::empty({cuda::nb_log_prob_softmax_scratch_rows(R), G}, DType::F32, Device::CUDA);
            cuda::nb_log_prob_softmax_backward(gf32(dL), gf32(dLT), dLT ? scratch.f32() : nullptr, dout.f32(),
                                               lse.f32(), L.f32(), LT.f32(), counts.f32(), library.f32(), R, B, G);
#else
            GPO_CUDA((void)0);
#endif
        } else {
            dispatch_cpu(dout, "nb_log_prob_softmax", [&](auto tag) {
                using T = decltype(tag);
                // Row chunks fixed by the sizes; each chunk's log_theta gradient goes to its own row of
                // `partial`, added to dLT in chunk order: the same result for every thread count.
                std::vector<T> c = cpu::nb_dispersion(LT.ptr<T>(), G);
                const std::vector<T> psi = dLT ? nb_shared_count_parts<T>(counts, c, R, B, G, true) : std::vector<T>();
                const int64_t grain = nb_row_grain(G), chunks = (R + grain - 1) / grain;
                std::vector<T> partial(dLT ? (size_t)(chunks * G) : 0, T(0));
                parallel_for(chunks, [&](int64_t k) {
                    const int64_t r0 = k * grain, r1 = std::min(R, (k + 1) * grain);
                    T* dlt = dLT ? partial.data() + k * G : nullptr;
                    const T* ps = psi.empty() ? nullptr : psi.data();
                    if constexpr (std::is_same_v<T, float>)
                        cpu::nb_backward_rows_f32(gptr<T>(dL), dlt, dout.f32(), lse.f32(), L.f32(), c.data(),
                                                  counts.f32(), library.f32(), r0, r1, B, G, ps);
                    else
                        cpu::nb_log_prob_softmax_backward_rows<T>(gptr<T>(dL), dlt, dout.ptr<T>(), lse.ptr<T>(),
                                                                  L.ptr<T>(), c.data(), counts.ptr<T>(),
                                                                  library.ptr<T>(), r0, r1, B, G, ps);
                });
                if (dLT)
                    for (int64_t k = 0; k < chunks; ++k)
                        for (int64_t g = 0; g < G; ++g) dLT->ptr<T>()[g] += partial[k * G + g];
            });
        }
    });
}

}  // namespace gpo::ops
