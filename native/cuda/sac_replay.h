// Launchers of the replay-buffer kernels (one launch each, no synchronisation). Rows are copied as
// raw elements of elem_bytes (2 or 4) bytes.
#pragma once
#include <cstdint>

namespace era::cuda {

void random_indices_i32(int32_t* out, int64_t count, int64_t high, uint64_t seed,
                        uint64_t offset, void* stream);

// An index outside [0, n) is not read: its output row is written as zeros.
void gather_rows(void* out, const void* src, const int32_t* idx, int64_t seeds, int64_t n,
                 int64_t batch, int64_t f, int elem_bytes, void* stream);

void scatter_rows(void* dst, const void* rows, int64_t seeds, int64_t n, int64_t k, int64_t f,
                  int64_t start, int elem_bytes, void* stream);

}  // namespace era::cuda
