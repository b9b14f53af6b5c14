// GEMMs with only a few rows or a few columns: a critic's one-column output, a policy head of a
// few actions, one observation's forward pass while acting. Packing both operands for the
// mr x nr micro-kernel costs more than the product there (the large operand is copied to be
// read once, and most kernel lanes are padding), so these loops read the operands in place.
#pragma once
#include "gemm.h"

namespace era::cpu {

// At most this many rows (m) or columns (n) makes a product skinny.
constexpr int64_t kSkinnyMax = 4;

// Computes g and returns true when it is a skinny f32 product (no tf32/bf16 rounding); returns
// false and leaves out untouched otherwise. Same contract as gemm(): each output element is summed
// in a fixed order by one thread, so the result does not depend on the thread count.
bool gemm_skinny(const GemmArgs& g);

}  // namespace era::cpu
