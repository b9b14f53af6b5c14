// Launchers of the fused optimizer kernels over flat f32 blocks (semantics: native/cpu/optim.h).
#pragma once
#include <cstdint>

#include "../core/adam.h"

namespace era::cuda {

void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h,
               void* stream);
// The same with the step count on the device: counter[0] += 1, then the bias corrections from it.
void adam_step_counted(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h,
                       double beta1, double beta2, int32_t* counter, void* stream);
void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
              bool nesterov, float weight_decay, void* stream);
void polyak(float* target, const float* online, int64_t n, float tau, void* stream);

// Gradient clipping by the global norm of several blocks, all on the device (no host sync):
// norm[0] = sqrt(sum of squares of every block); then each block is scaled by
// (norm < max_norm ? 1 : max_norm / norm).
void clip_grad_norm(float* const* grads, const int64_t* sizes, int count, float max_norm,
                    float* norm, void* stream);

}  // namespace era::cuda
