#include "era_gaussian.h"

#include <cmath>
#include <string>

#include "../cpu/era_gaussian.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/era_gaussian.h"
#endif

namespace era::ops {

namespace {

constexpr double kHalfLog2PiE = 1.4189385332046727;  // 0.5 * ln(2 pi e)

// raw must be a 2-D f32 tensor with D >= 1; returns D.
int64_t check_raw(const TensorView& raw) {
  require_dtype(raw, {DType::F32}, "raw");
  if (raw.ndim != 2) throw_range("a 2-D tensor [B, D]", "raw", raw.describe());
  if (raw.shape[1] < 1) throw_range("at least one action dimension (D >= 1)", "raw", raw.describe());
  return raw.shape[1];
}

void check_params(const GaussianParams& p) {
  require_finite(p.target_entropy, "options.targetEntropy");
  require_finite(p.log_std_min, "options.logStdMin");
  require_finite(p.log_std_max, "options.logStdMax");
  if (!(p.log_std_min < p.log_std_max))
    throw_range("a number less than options.logStdMax (" + std::to_string(p.log_std_max) + ")",
                "options.logStdMin", std::to_string(p.log_std_min));
}

// K = H0' - D (l_max + 0.5 ln 2 pi e): then sum_i l_pre_i + D * 0.5 ln 2 pi e = H0' exactly.
double scale_k(const GaussianParams& p, int64_t d) {
  return p.target_entropy - static_cast<double>(d) * (p.log_std_max + kHalfLog2PiE);
}

}  // namespace

void era_gaussian_forward(const TensorView& out, const TensorView& raw, const GaussianParams& p) {
  const int64_t d = check_raw(raw);
  require_dtype(out, {DType::F32}, "out");
  require_same_device(out, raw, "out", "raw");
  require_same_shape(out, raw, "out", "raw");
  // Not in place: the CUDA kernel takes __restrict__ pointers.
  require_no_alias(out, "options.out", raw, "raw");
  check_params(p);
  const int64_t rows = raw.shape[0];
  const double k = scale_k(p, d);
  dispatch(raw.device, "era.gaussian",
           [&] {
             cpu::era_gaussian_forward_f32(out.ptr<float>(), raw.ptr<float>(), rows, d, k,
                                           p.log_std_min, p.log_std_max, p.clip_upper);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::era_gaussian_forward_f32(
                 out.ptr<float>(), raw.ptr<float>(), rows, d, static_cast<float>(k),
                 static_cast<float>(p.log_std_min), static_cast<float>(p.log_std_max),
                 p.clip_upper, s);)
             (void)s;
           });
}

void era_gaussian_backward(const TensorView& grad_raw, const TensorView& raw,
                           const TensorView& grad_log_std, const GaussianParams& p) {
  const int64_t d = check_raw(raw);
  require_dtype(grad_log_std, {DType::F32}, "gradLogStd");
  require_same_device(grad_log_std, raw, "gradLogStd", "raw");
  require_same_shape(grad_log_std, raw, "gradLogStd", "raw");
  require_dtype(grad_raw, {DType::F32}, "out");
  require_same_device(grad_raw, raw, "out", "raw");
  require_same_shape(grad_raw, raw, "out", "raw");
  require_no_alias(grad_raw, "options.out", raw, "raw");
  require_no_alias(grad_raw, "options.out", grad_log_std, "gradLogStd");
  check_params(p);
  const int64_t rows = raw.shape[0];
  const double k = scale_k(p, d);
  dispatch(raw.device, "era.gaussianBackward",
           [&] {
             cpu::era_gaussian_backward_f32(grad_raw.ptr<float>(), raw.ptr<float>(),
                                            grad_log_std.ptr<float>(), rows, d, k, p.log_std_min,
                                            p.log_std_max, p.clip_upper);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::era_gaussian_backward_f32(
                 grad_raw.ptr<float>(), raw.ptr<float>(), grad_log_std.ptr<float>(), rows, d,
                 static_cast<float>(k), static_cast<float>(p.log_std_min),
                 static_cast<float>(p.log_std_max), p.clip_upper, s);)
             (void)s;
           });
}

}  // namespace era::ops
