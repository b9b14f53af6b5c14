#include "grouped_matmul.h"

#include "../core/error.h"

namespace era::models {

void grouped_matmul(const ops::StridedMatrices& out, const ops::StridedMatrices& a,
                    const ops::StridedMatrices& b, const ops::StridedMatrices* bias, int64_t groups,
                    const ops::StridedGemm& shape, const ops::MatmulOptions& o) {
  const int64_t members = shape.batch;
  if (groups < 1 || members % groups != 0)
    throw_range("a group count that divides the " + std::to_string(members) + " members", "groups",
                std::to_string(groups));
  if (groups == members || groups == 1) {
    ops::StridedMatrices shared = a;
    if (groups == 1) shared.stride = 0;  // one input for every member
    ops::matmul_strided(out, shared, b, bias, shape, o);
    return;
  }
  const int64_t per = members / groups;
  ops::StridedGemm s = shape;
  if (per <= groups) {
    // Launch j covers member j of every group: batch over groups.
    s.batch = groups;
    for (int64_t j = 0; j < per; ++j) {
      const ops::StridedMatrices oj{out.t, out.offset + j * out.stride, out.stride * per};
      const ops::StridedMatrices bj{b.t, b.offset + j * b.stride, b.stride * per};
      ops::StridedMatrices cj;
      if (bias) cj = {bias->t, bias->offset + j * bias->stride, bias->stride * per};
      ops::matmul_strided(oj, a, bj, bias ? &cj : nullptr, s, o);
    }
  } else {
    // Launch g covers the members of group g: batch over them, one shared input.
    s.batch = per;
    for (int64_t g = 0; g < groups; ++g) {
      const ops::StridedMatrices og{out.t, out.offset + g * per * out.stride, out.stride};
      const ops::StridedMatrices ag{a.t, a.offset + g * a.stride, 0};
      const ops::StridedMatrices bg{b.t, b.offset + g * per * b.stride, b.stride};
      ops::StridedMatrices cg;
      if (bias) cg = {bias->t, bias->offset + g * per * bias->stride, bias->stride};
      ops::matmul_strided(og, ag, bg, bias ? &cg : nullptr, s, o);
    }
  }
}

}  // namespace era::models
