// The LLM ERA activation as ops (era-spec §2.3-§2.7): argument checks, token/offset checks, and
// dispatch to the CPU reference or the CUDA kernels. Outputs are caller-allocated.
#pragma once
#include "../core/era_logits_params.h"
#include "../core/tensor.h"

namespace era::ops {

struct EraLogitsOutputs {
  TensorView log_probs;         // [N] f32
  TensorView entropy;           // [N] f32
  TensorView response_entropy;  // [R] f32
  TensorView scale;             // [N] f32
  TensorView advantages;        // [N] f32
};

// logits [N, V] f32|bf16, tokens [N] i32, offsets [R + 1] i32, advantages [N] f32.
void era_logits_forward(const TensorView& logits, const TensorView& tokens,
                        const TensorView& offsets, const TensorView& advantages,
                        const EraLogitsOutputs& out, const EraLogitsParams& p);

// grad [N, V] in the logits' dtype (may be logits itself: in place). scale and log_probs are the
// forward's outputs for the same inputs and options. Uses p.temperature, p.top_k, p.validate.
void era_logits_backward(const TensorView& logits, const TensorView& tokens,
                         const TensorView& grad_log_probs, const TensorView& scale,
                         const TensorView& log_probs, const TensorView& grad,
                         const EraLogitsParams& p);

}  // namespace era::ops
