// CPU reference of the LLM ERA activation (era-spec §2.3-§2.7): float64 accumulation throughout.
// Arguments are trusted (native/ops/era_logits.cc validates them); p.top_k is the effective value
// (0 or 1 <= top_k < v).
#pragma once
#include <cstdint>

#include "../core/era_logits_params.h"

namespace era::cpu {

// logits: [n, v] floats, or raw bf16 bits when bf16 is set. offsets: [r + 1], 0 = offsets[0] <=
// ... <= offsets[r] = n. Outputs: log_probs, entropy, scale, advantages_out [n];
// response_entropy [r].
void era_logits_forward(const void* logits, bool bf16, int64_t n, int64_t v, const int32_t* tokens,
                        const int32_t* offsets, int64_t r, const float* advantages,
                        float* log_probs, float* entropy, float* response_entropy, float* scale,
                        float* advantages_out, const EraLogitsParams& p);

// grad [n, v] (same element type as logits; may equal logits: in place) =
// scale * g / temperature * (onehot(token) - softmax over the support of scale * z), where the
// support is the full row (top_k = 0) or the row's top-k set (zero rows where the token lies
// outside it). scale and log_probs are the forward's: q_v = exp(logp + c (z_v - z_y)), and at the
// token 1 - q_y = -expm1(logp), which stays accurate when q_y is close to 1.
void era_logits_backward(const void* logits, void* grad, bool bf16, int64_t n, int64_t v,
                         const int32_t* tokens, const float* grad_log_probs, const float* scale,
                         const float* log_probs, double temperature, int top_k);

}  // namespace era::cpu
