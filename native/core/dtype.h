// Element types and devices. The numeric values are part of the addon ABI (lib/native.ts).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace era {

enum class DType : int { F32 = 0, I32 = 1, BF16 = 2 };
enum class Device : int { CPU = 0, CUDA = 1 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::BF16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::BF16: return "bf16";
  }
  return "unknown";
}

inline const char* device_name(Device d) { return d == Device::CUDA ? "cuda" : "cpu"; }

}  // namespace era
