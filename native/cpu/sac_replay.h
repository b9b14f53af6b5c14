// CPU replay-buffer sampling: Philox indices, row gathers and ring-buffer row writes. Rows are
// copied as raw elements of elem_bytes (2 or 4) bytes, so any dtype works; the op layer checks
// indices and ranges before calling these.
#pragma once
#include <cstdint>

namespace era::cpu {

// out[i] = (word_i * high) >> 32, word_i = 32-bit Philox output i of (seed, offset).
void random_indices_i32(int32_t* out, int64_t count, int64_t high, uint64_t seed,
                        uint64_t offset);

// out[s, b, :] = src[s, idx[b], :] for s < seeds, b < batch; rows of f elements.
void gather_rows(void* out, const void* src, const int32_t* idx, int64_t seeds, int64_t n,
                 int64_t batch, int64_t f, int elem_bytes);

// dst[s, (start + i) % n, :] = rows[s, i, :] for s < seeds, i < k (k <= n).
void scatter_rows(void* dst, const void* rows, int64_t seeds, int64_t n, int64_t k, int64_t f,
                  int64_t start, int elem_bytes);

}  // namespace era::cpu
