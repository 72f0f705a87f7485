// CUDA Sinkhorn matching: the same computation as engine/data/sinkhorn.cpp (the CPU reference, in double) in f32
// on the GPU: cost kernel, iterations as two cuBLAS matrix-vector products, the marginal error every 10
// iterations, and the row argmax of the plan.
#pragma once
#include <vector>

namespace gpo::cuda {

// src (n, d) and dst (m, d) row-major on the host; returns n indices into dst. Also returns the final scalings
// u (n) and v (m) when the pointers are given (for parity tests).
std::vector<int> sinkhorn_match(const std::vector<double>& src, const std::vector<double>& dst, int d, double reg,
                                double cost_scale, int max_iter, double tol, std::vector<double>* u_out = nullptr,
                                std::vector<double>* v_out = nullptr);

}  // namespace gpo::cuda
