#include "era_logits.h"

#include <cstdint>
#include <iterator>
#include <string>

#include "../cpu/era_logits.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/era_logits.h"
#endif

namespace era::ops {

namespace {

constexpr int64_t kMaxIndex = 2147483647;  // rows, vocabulary and offsets are int32 indices

void require_vector(const TensorView& t, int64_t n, const char* name, const std::string& what_n) {
  if (t.ndim != 1 || t.shape[0] != n)
    throw_range("shape [" + std::to_string(n) + "] (" + what_n + ")", name, t.describe());
}

void require_f32_vector(const TensorView& t, const TensorView& logits, int64_t n, const char* name,
                        const std::string& what_n) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, logits, name, "logits");
  require_vector(t, n, name, what_n);
}

void check_logits(const TensorView& logits) {
  require_dtype(logits, {DType::F32, DType::BF16}, "logits");
  if (logits.ndim != 2 || logits.shape[1] < 1)
    throw_range("a 2-D tensor [N, V] with V >= 1", "logits", logits.describe());
  if (logits.shape[0] > kMaxIndex || logits.shape[1] > kMaxIndex)
    throw_range("at most 2147483647 rows and columns", "logits", logits.describe());
}

void check_tokens(const TensorView& tokens, const TensorView& logits) {
  require_dtype(tokens, {DType::I32}, "tokens");
  require_same_device(tokens, logits, "tokens", "logits");
  require_vector(tokens, logits.shape[0], "tokens", "one token per row of logits");
}

void check_params(const EraLogitsParams& p, bool forward) {
  require_finite(p.temperature, "options.temperature");
  if (!(p.temperature > 0)) throw_range("a positive number", "options.temperature", std::to_string(p.temperature));
  if (p.top_k < 0 || p.top_k > kEraLogitsMaxTopK)
    throw_range("an integer between 0 and " + std::to_string(kEraLogitsMaxTopK), "options.topK",
                std::to_string(p.top_k));
  if (!forward) return;
  require_finite(p.omega_low, "options.omegaLow");
  require_finite(p.omega_high, "options.omegaHigh");
  if (p.omega_high < p.omega_low)
    throw_range("a number >= options.omegaLow (" + std::to_string(p.omega_low) + ")",
                "options.omegaHigh", std::to_string(p.omega_high));
  require_finite(p.k, "options.k");
  if (!(p.k > 0)) throw_range("a positive number", "options.k", std::to_string(p.k));
  require_finite(p.top_fraction, "options.topFraction");
  if (!(p.top_fraction > 0 && p.top_fraction <= 1))
    throw_range("a number in (0, 1]", "options.topFraction", std::to_string(p.top_fraction));
}

[[noreturn]] void bad_token(int64_t row, int32_t value, int64_t v) {
  throw_range("token ids in [0, " + std::to_string(v) + ")", "tokens",
              std::to_string(value) + " at index " + std::to_string(row));
}

[[noreturn]] void bad_offset(int64_t j, int32_t value, int64_t n) {
  throw_range("non-decreasing offsets from 0 to " + std::to_string(n) + " (the rows of logits)",
              "offsets", "offsets[" + std::to_string(j) + "] = " + std::to_string(value));
}

// Token ids and offsets decide which memory the kernels touch, so they are checked before any
// work: on the host for CPU tensors, by a small kernel plus an 8-byte read-back for CUDA tensors
// (skipped when p.validate is false; the kernels then clamp every index and give NaN rows).
void check_indices(const TensorView& tokens, const TensorView* offsets, int64_t n, int64_t v,
                   int64_t r, const EraLogitsParams& p) {
  if (tokens.device == Device::CPU) {
    const int32_t* y = tokens.ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i)
      if (y[i] < 0 || y[i] >= v) bad_token(i, y[i], v);
    if (!offsets) return;
    const int32_t* o = offsets->ptr<int32_t>();
    for (int64_t j = 0; j <= r; ++j) {
      const bool bad = o[j] < 0 || o[j] > n || (j == 0 && o[j] != 0) || (j == r && o[j] != n) ||
                       (j > 0 && o[j - 1] > o[j]);
      if (bad) bad_offset(j, o[j], n);
    }
    return;
  }
#ifdef ERA_WITH_CUDA
  if (!p.validate) return;
  cuda_rt::require("logits");
  uint32_t* flags = static_cast<uint32_t*>(cuda_rt::device_alloc(2 * sizeof(uint32_t), "logits"));
  uint32_t host[2] = {0, 0};
  try {
    cuda::era_logits_validate(tokens.ptr<int32_t>(), n, v,
                              offsets ? offsets->ptr<int32_t>() : nullptr, r, flags,
                              cuda_rt::stream());
    cuda_rt::check_launch("logits");
    cuda_rt::download(host, flags, sizeof(host), "logits");
  } catch (...) {
    cuda_rt::device_free(flags);
    throw;
  }
  cuda_rt::device_free(flags);
  int32_t value = 0;
  if (host[0] != 0xffffffffu) {
    cuda_rt::download(&value, tokens.ptr<int32_t>() + host[0], sizeof(value), "logits");
    bad_token(host[0], value, v);
  }
  if (offsets && host[1] != 0xffffffffu) {
    cuda_rt::download(&value, offsets->ptr<int32_t>() + host[1], sizeof(value), "logits");
    bad_offset(host[1], value, n);
  }
#else
  (void)offsets;
  (void)r;
  (void)p;
#endif
}

// topK >= V selects the whole row: the same as the full-vocabulary log-softmax.
EraLogitsParams effective(const EraLogitsParams& p, int64_t v) {
  EraLogitsParams e = p;
  if (e.top_k >= v) e.top_k = 0;
  return e;
}

}  // namespace

void era_logits_forward(const TensorView& logits, const TensorView& tokens,
                        const TensorView& offsets, const TensorView& advantages,
                        const EraLogitsOutputs& out, const EraLogitsParams& params) {
  check_logits(logits);
  const int64_t n = logits.shape[0], v = logits.shape[1];
  check_tokens(tokens, logits);
  require_dtype(offsets, {DType::I32}, "offsets");
  require_same_device(offsets, logits, "offsets", "logits");
  if (offsets.ndim != 1 || offsets.shape[0] < 1)
    throw_range("a 1-D tensor [R + 1] (R >= 0 responses)", "offsets", offsets.describe());
  const int64_t r = offsets.shape[0] - 1;
  const std::string per_row = "one per row of logits";
  require_f32_vector(advantages, logits, n, "advantages", per_row);
  require_f32_vector(out.log_probs, logits, n, "logProbs", per_row);
  require_f32_vector(out.entropy, logits, n, "entropy", per_row);
  require_f32_vector(out.response_entropy, logits, r, "responseEntropy", "one per response");
  require_f32_vector(out.scale, logits, n, "scale", per_row);
  require_f32_vector(out.advantages, logits, n, "advantagesOut", per_row);
  // The TS layer always passes fresh outputs; a direct call must not alias an input or another
  // output either (no in-place form: the kernels write the outputs while still reading inputs).
  const Named outs[] = {{&out.log_probs, "logProbs"}, {&out.entropy, "entropy"},
                        {&out.response_entropy, "responseEntropy"}, {&out.scale, "scale"},
                        {&out.advantages, "advantagesOut"}};
  for (size_t i = 0; i < std::size(outs); ++i) {
    require_no_alias(*outs[i].t, outs[i].name, {{&logits, "logits"}, {&tokens, "tokens"},
                                                {&offsets, "offsets"}, {&advantages, "advantages"}});
    for (size_t j = 0; j < i; ++j) require_no_alias(*outs[i].t, outs[i].name, *outs[j].t, outs[j].name);
  }
  check_params(params, true);
  require_cuda_for(logits, "logits");
  check_indices(tokens, &offsets, n, v, r, params);
  const EraLogitsParams p = effective(params, v);
  const bool bf16 = logits.dtype == DType::BF16;

  dispatch(
      logits.device, "logits",
      [&] {
        cpu::era_logits_forward(logits.data, bf16, n, v, tokens.ptr<int32_t>(),
                                offsets.ptr<int32_t>(), r, advantages.ptr<float>(),
                                out.log_probs.ptr<float>(), out.entropy.ptr<float>(),
                                out.response_entropy.ptr<float>(), out.scale.ptr<float>(),
                                out.advantages.ptr<float>(), p);
      },
      [&](void* s) {
#ifdef ERA_WITH_CUDA
        // O(N) workspace: 32 bytes of row statistics per row. Freed right after the launch: the
        // caching allocator hands it out again only to work ordered after it on the same stream.
        float* ws = n > 0 ? static_cast<float*>(cuda_rt::device_alloc(
                                size_t(cuda::era_logits_workspace_bytes(n)), "logits"))
                          : nullptr;
        cuda::era_logits_forward(logits.data, bf16, n, v, tokens.ptr<int32_t>(),
                                 offsets.ptr<int32_t>(), r, advantages.ptr<float>(),
                                 out.log_probs.ptr<float>(), out.entropy.ptr<float>(),
                                 out.response_entropy.ptr<float>(), out.scale.ptr<float>(),
                                 out.advantages.ptr<float>(), ws, p, s);
        cuda_rt::device_free(ws);
#else
        (void)s;
#endif
      });
}

void era_logits_backward(const TensorView& logits, const TensorView& tokens,
                         const TensorView& grad_log_probs, const TensorView& scale,
                         const TensorView& log_probs, const TensorView& grad,
                         const EraLogitsParams& params) {
  check_logits(logits);
  const int64_t n = logits.shape[0], v = logits.shape[1];
  check_tokens(tokens, logits);
  const std::string per_row = "one per row of logits";
  require_f32_vector(grad_log_probs, logits, n, "gradLogProbs", per_row);
  require_f32_vector(scale, logits, n, "scale", per_row);
  require_f32_vector(log_probs, logits, n, "logProbs", per_row);
  require_same_dtype(grad, logits, "grad", "logits");
  require_same_device(grad, logits, "grad", "logits");
  require_same_shape(grad, logits, "grad", "logits");
  // In place, or apart: a grad shifted against the logits would overwrite rows not yet read.
  require_in_place_or_apart(grad, "grad", logits, "logits");
  require_no_alias(grad, "grad", {{&tokens, "tokens"}, {&grad_log_probs, "gradLogProbs"},
                                  {&scale, "scale"}, {&log_probs, "logProbs"}});
  check_params(params, false);
  require_cuda_for(logits, "logitsBackward");
  check_indices(tokens, nullptr, n, v, -1, params);
  const EraLogitsParams p = effective(params, v);
  const bool bf16 = logits.dtype == DType::BF16;

  dispatch(
      logits.device, "logitsBackward",
      [&] {
        cpu::era_logits_backward(logits.data, grad.data, bf16, n, v, tokens.ptr<int32_t>(),
                                 grad_log_probs.ptr<float>(), scale.ptr<float>(),
                                 log_probs.ptr<float>(), p.temperature, p.top_k);
      },
      [&](void* s) {
        ERA_CUDA_ONLY(cuda::era_logits_backward(logits.data, grad.data, bf16, n, v,
                                                tokens.ptr<int32_t>(), grad_log_probs.ptr<float>(),
                                                scale.ptr<float>(), log_probs.ptr<float>(),
                                                p.temperature, p.top_k, s);)
        (void)s;
      });
}

}  // namespace era::ops
