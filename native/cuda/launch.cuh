// Shared launch geometry for grid-stride kernels.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace era::cuda {

constexpr int kBlock = 256;

// Enough blocks to fill the device several times over; grid-stride loops cover the rest.
inline unsigned grid_for(int64_t work_items) {
  int64_t blocks = (work_items + kBlock - 1) / kBlock;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  return static_cast<unsigned>(blocks);
}

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace era::cuda
