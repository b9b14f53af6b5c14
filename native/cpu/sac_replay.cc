#include "sac_replay.h"

#include <cstring>

#include "../core/philox.h"

namespace era::cpu {

void random_indices_i32(int32_t* out, int64_t count, int64_t high, uint64_t seed,
                        uint64_t offset) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t w = philox_block(seed, offset / 4 + static_cast<uint64_t>(i) / 4).v[i % 4];
    out[i] = static_cast<int32_t>((static_cast<uint64_t>(w) * static_cast<uint64_t>(high)) >> 32);
  }
}

void gather_rows(void* out, const void* src, const int32_t* idx, int64_t seeds, int64_t n,
                 int64_t batch, int64_t f, int elem_bytes) {
  const size_t row = static_cast<size_t>(f) * elem_bytes;
  auto* o = static_cast<char*>(out);
  const auto* s = static_cast<const char*>(src);
  for (int64_t k = 0; k < seeds; ++k)
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(o + (k * batch + b) * row, s + (k * n + idx[b]) * row, row);
}

void scatter_rows(void* dst, const void* rows, int64_t seeds, int64_t n, int64_t k, int64_t f,
                  int64_t start, int elem_bytes) {
  const size_t row = static_cast<size_t>(f) * elem_bytes;
  auto* d = static_cast<char*>(dst);
  const auto* r = static_cast<const char*>(rows);
  for (int64_t s = 0; s < seeds; ++s)
    for (int64_t i = 0; i < k; ++i)
      std::memcpy(d + (s * n + (start + i) % n) * row, r + (s * k + i) * row, row);
}

}  // namespace era::cpu
