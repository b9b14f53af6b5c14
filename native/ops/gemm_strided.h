// matmul over batches of matrices that sit at arbitrary strides inside larger tensors: what an
// ensemble model needs when member e's weights lie one member block apart in a flat parameter
// tensor, or a group of members shares one input. Same kernels, rules and options as matmul.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace era::ops {

// `batch` equally shaped matrices inside t: entry i starts at element offset + i * stride
// (stride 0: one matrix shared by every entry; not allowed for the output when batch > 1).
struct StridedMatrices {
  TensorView t;
  int64_t offset = 0;
  int64_t stride = 0;
};

struct StridedGemm {
  int64_t m = 0, n = 0, k = 0, batch = 1;
};

// out[i] = act(beta * out[i] + op(a[i]) · op(b[i]) + bias[i]) for i < batch, with op(a[i]) [m, k],
// op(b[i]) [k, n], out[i] and bias[i] (a [n] row, or null) f32. a and b are f32 or bf16 (bf16:
// precision must be bf16). The output's span may not overlap any input's span.
void matmul_strided(const StridedMatrices& out, const StridedMatrices& a, const StridedMatrices& b,
                    const StridedMatrices* bias, const StridedGemm& shape,
                    const MatmulOptions& options);

}  // namespace era::ops
