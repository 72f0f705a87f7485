// CUDA launchers for the element-wise family (f32). Same meaning and argument order as kernels/cpu/elementwise.h;
// backward launchers accumulate (+=).
#pragma once
#include <cstdint>

#include "kernels/cpu/elementwise.h"  // provides: the UnaryOp / BinaryOp enums (plain C++)

namespace gpo::cuda {

void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float a, float b, float c);
void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y, int64_t n, float a,
                    float b);
void binary_forward(BinaryOp op, float* y, const float* a, const float* b, int64_t n);
void mul_backward(float* da, const float* dy, const float* other, int64_t n);
// Shapes padded to 4 dims; in[d] is 1 or out[d]. The arrays are host memory.
void broadcast_forward(float* y, const float* x, const int64_t in[4], const int64_t out[4]);
void broadcast_backward(float* dx, const float* dy, const int64_t in[4], const int64_t out[4]);
void softmax_rows_forward(float* y, const float* x, int64_t rows, int64_t C);
void softmax_rows_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t C);
void concat_part_forward(float* y, const float* x, int64_t rows, int64_t C, int64_t C_total, int64_t off);
void concat_part_backward(float* dx, const float* dy, int64_t rows, int64_t C, int64_t C_total, int64_t off);
void log_standardize_forward(float* y, const float* x, const float* mean, const float* std, int64_t rows,
                             int64_t C);
void log_standardize_backward(float* dx, const float* dy, const float* x, const float* mean, const float* std,
                              int64_t rows, int64_t C);

}  // namespace gpo::cuda
