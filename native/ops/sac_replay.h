// Replay-buffer ops: Philox row indices, row gathers and ring-buffer row writes, for one buffer
// [N, F] or a stack of per-seed buffers [S, N, F] that share the indices (era-spec §1.7).
// Argument names in errors are the TS API's (lib/rl/ops-replay.ts).
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace era::ops {

// out: i32 [count], uniform in [0, high) (1 <= high <= 2^31) from (seed, offset).
void random_indices(const TensorView& out, double high, uint64_t seed, uint64_t offset);

// out [B, F] = src [N, F] rows at indices [B] (or [S, B, F] from [S, N, F]). Indices are checked
// on the CPU always; on CUDA only when `check` is set, which reads them back (synchronising).
// Unchecked bad indices on CUDA produce zero rows and touch no memory outside src.
void gather_rows(const TensorView& out, const TensorView& src, const TensorView& indices,
                 bool check);

// dst[(start + i) % N] = rows[i] for i < k (per seed for [S, N, F]); k <= N, 0 <= start < N.
void scatter_rows(const TensorView& dst, const TensorView& rows, double start);

}  // namespace era::ops
