// Options of the LLM ERA activation (era-spec §2.3-§2.5), shared by the op layer and both backends.
// The op layer validates them; kernels trust them.
#pragma once
#include <cstdint>

namespace era {

// Upper bound on topK: the top-k set of a row is collected in shared memory (CUDA).
constexpr int kEraLogitsMaxTopK = 1024;

struct EraLogitsParams {
  double omega_low = 0.45;    // H_resp below this: scale the logits by k
  double omega_high = 3.0;    // H_resp above this: scale the logits by 1/k
  double k = 2.0;             // > 0
  double top_fraction = 0.2;  // H_resp = mean of the top max(1, floor(top_fraction * L)) entropies
  double temperature = 1.0;   // z = logits / temperature, before entropy and scaling
  int top_k = 0;              // 0: full-vocabulary log-softmax; else the renormalised top-k (effective min(top_k, V))
  bool reference_test = false;       // advantage test int64(A) > 0 (A >= 1) instead of A > 0
  bool rescale_advantages = false;   // era-spec §2.5
  bool validate = true;              // check token ids and offsets before any kernel runs (CUDA)
};

}  // namespace era
