// The basic ops every later piece uses: fill, copy (any device pair), add, scale, random draws.
// Each validates its arguments and dispatches to the CPU or CUDA kernel.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace era::ops {

void fill(const TensorView& out, double value);
void copy(const TensorView& dst, const TensorView& src);
// out = a + alpha * b
void add(const TensorView& out, const TensorView& a, const TensorView& b, double alpha);
// out = alpha * in
void scale(const TensorView& out, const TensorView& in, double alpha);
// out = exp(in), f32 (out may be in)
void exponential(const TensorView& out, const TensorView& in);
void random_uniform(const TensorView& out, uint64_t seed, uint64_t offset, double low,
                    double high);
void random_normal(const TensorView& out, uint64_t seed, uint64_t offset, double mean,
                   double stddev);

}  // namespace era::ops
