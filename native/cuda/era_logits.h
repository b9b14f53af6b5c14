// Launchers of the LLM ERA activation kernels (enqueue on `stream`, return at once). Arguments are
// trusted (native/ops/era_logits.cc validates them); p.top_k is the effective value (0 or < v).
#pragma once
#include <cstdint>

#include "../core/era_logits_params.h"

namespace era::cuda {

// Device-side index check: flags[0] = first row whose token is outside [0, v), flags[1] = first
// offsets index that breaks 0 = offsets[0] <= ... <= offsets[r] = n; 0xffffffff where none.
// `flags` is two uint32 words of device memory. offsets may be null (tokens only).
void era_logits_validate(const int32_t* tokens, int64_t n, int64_t v, const int32_t* offsets,
                         int64_t r, uint32_t* flags, void* stream);

// Bytes of device workspace the forward needs (O(n): 32 bytes per row).
inline int64_t era_logits_workspace_bytes(int64_t n) { return n * 8 * 4; }

// Forward: a per-row pass over the logits (entropy and the log-normalisers of the three possible
// scalings, plus the top-k set when p.top_k > 0), then one block per response for the segmented
// top-fraction mean, the scale, the log-prob and the advantages. Every index is clamped, so invalid
// tokens or offsets never cause an out-of-bounds access (they give NaN rows instead).
void era_logits_forward(const void* logits, bool bf16, int64_t n, int64_t v,
                        const int32_t* tokens, const int32_t* offsets, int64_t r,
                        const float* advantages, float* log_probs, float* entropy,
                        float* response_entropy, float* scale, float* advantages_out,
                        float* workspace, const EraLogitsParams& p, void* stream);

// Backward: one pass per row writing scale * g / T * (onehot(token) - q), with q from the
// forward's log-prob (q_v = exp(logp + c (z_v - z_y))); grad may equal logits. topK > 0 first
// repeats the row's top-k selection (a few more reads of the row).
void era_logits_backward(const void* logits, void* grad, bool bf16, int64_t n, int64_t v,
                         const int32_t* tokens, const float* grad_log_probs, const float* scale,
                         const float* log_probs, double temperature, int top_k, void* stream);

}  // namespace era::cuda
