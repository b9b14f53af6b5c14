// One product per ensemble member where consecutive members share their left operand: member e
// of `members` belongs to group e / (members / groups). Runs as one batched GEMM when every member
// has its own operand or all share one, else as min(groups, members / groups) batched GEMMs.
#pragma once
#include <cstdint>

#include "../ops/gemm_strided.h"

namespace era::models {

// out_e = act(beta * out_e + op(a_g) · op(b_e) + bias_e). shape.batch is the member count; a's
// stride steps between groups, out's, b's and bias's between members.
void grouped_matmul(const ops::StridedMatrices& out, const ops::StridedMatrices& a,
                    const ops::StridedMatrices& b, const ops::StridedMatrices* bias, int64_t groups,
                    const ops::StridedGemm& shape, const ops::MatmulOptions& options);

}  // namespace era::models
