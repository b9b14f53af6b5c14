#include "era_vision.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "../cpu/era_vision.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/era_vision.h"
#endif

namespace era::ops {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// logits must be a 2-D f32 tensor with C >= 2; returns C.
int64_t check_logits(const TensorView& logits) {
  require_dtype(logits, {DType::F32}, "logits");
  if (logits.ndim != 2) throw_range("a 2-D tensor [B, C]", "logits", logits.describe());
  // With one class the slope s = (n u_b - C_H) / (n - 1) is undefined.
  if (logits.shape[1] < 2) throw_range("at least 2 classes (C >= 2)", "logits", logits.describe());
  return logits.shape[1];
}

void check_output(const TensorView& t, const TensorView& logits, const char* name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, logits, name, "logits");
  require_same_shape(t, logits, name, "logits");
}

}  // namespace

VisionCoeffs era_vision_coeffs(const VisionParams& p, int64_t n) {
  require_finite(p.tau, "options.tau");
  // tau <= 1 gives u_b <= 0: no lower branch of W to land on; past 1e30 u_b is too small for f32.
  if (!(p.tau > 1 && p.tau <= 1e30))
    throw_range("a number in (1, 1e+30] (beyond it ln tau / tau is too small for f32 kernels)", "options.tau", num(p.tau));
  require_finite(p.min_entropy, "options.minEntropy");
  const double nd = static_cast<double>(n);
  const double ub = std::log(p.tau) / p.tau;
  // b and s must be normal f32 numbers (the CUDA kernels compute in f32; b = 0, the reference's
  // own bound, lets h reach 0, so ln 0, when a probability underflows).
  const double ch = std::exp(p.min_entropy - 1.0);
  const double s = (nd * ub - ch) / (nd - 1.0), b = (ch - ub) / (nd - 1.0);
  const double f32_normal_min = std::ldexp(1.0, -126);
  if (!(b >= f32_normal_min) || !(s >= f32_normal_min))
    throw_range("a number in (" + num(1.0 + std::log(ub)) + ", " + num(1.0 + std::log(nd * ub)) +
                    ") (1 + ln(ln tau / tau) < minEntropy < 1 + ln(C ln tau / tau), C = " + std::to_string(n) +
                    ", tau = " + num(p.tau) + ", with slope and intercept at least 2^-126)",
                "options.minEntropy", num(p.min_entropy));
  return {s, b};
}

void era_vision_forward(const TensorView& out, const TensorView& logits, const VisionParams& p) {
  const int64_t n = check_logits(logits);
  check_output(out, logits, "out");
  // No input may share memory with an output, not even exactly: the CUDA kernels take
  // __restrict__ pointers (and the cross entropy re-reads the label's logit through __ldg).
  require_no_alias(out, "options.out", logits, "logits");
  const VisionCoeffs c = era_vision_coeffs(p, n);
  const int64_t rows = logits.shape[0];
  dispatch(logits.device, "era.softmax",
           [&] { cpu::era_vision_forward_f32(out.ptr<float>(), logits.ptr<float>(), rows, n, c.s, c.b); },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::era_vision_forward_f32(out.ptr<float>(), logits.ptr<float>(), rows,
                                                        n, static_cast<float>(c.s),
                                                        static_cast<float>(c.b), s);)
             (void)s;
           });
}

void era_vision_backward(const TensorView& grad_logits, const TensorView& logits,
                         const TensorView& grad_out, const VisionParams& p) {
  const int64_t n = check_logits(logits);
  check_output(grad_out, logits, "gradOut");
  check_output(grad_logits, logits, "out");
  require_no_alias(grad_logits, "options.out", logits, "logits");
  require_no_alias(grad_logits, "options.out", grad_out, "gradOut");
  const VisionCoeffs c = era_vision_coeffs(p, n);
  const int64_t rows = logits.shape[0];
  dispatch(logits.device, "era.softmaxBackward",
           [&] {
             cpu::era_vision_backward_f32(grad_logits.ptr<float>(), logits.ptr<float>(),
                                          grad_out.ptr<float>(), rows, n, c.s, c.b);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::era_vision_backward_f32(
                 grad_logits.ptr<float>(), logits.ptr<float>(), grad_out.ptr<float>(), rows, n,
                 static_cast<float>(c.s), static_cast<float>(c.b), s);)
             (void)s;
           });
}

double era_vision_cross_entropy(const TensorView& grad_logits, const TensorView& logits,
                                const TensorView& labels, const VisionParams& p,
                                double label_smoothing, const TensorView* loss_out) {
  const int64_t n = check_logits(logits);
  const int64_t rows = logits.shape[0];
  // The mean over an empty batch is undefined.
  if (rows < 1) throw_range("at least one row (B >= 1)", "logits", logits.describe());
  require_dtype(labels, {DType::I32}, "labels");
  require_same_device(labels, logits, "labels", "logits");
  if (labels.ndim != 1 || labels.shape[0] != rows)
    throw_range("shape [" + std::to_string(rows) + "] (one label per row of logits)", "labels",
                labels.describe());
  check_output(grad_logits, logits, "out");
  require_no_alias(grad_logits, "options.out", logits, "logits");
  require_no_alias(grad_logits, "options.out", labels, "labels");
  if (loss_out) {
    require_dtype(*loss_out, {DType::F32}, "options.lossOut");
    require_same_device(*loss_out, logits, "options.lossOut", "logits");
    if (loss_out->numel != 1) throw_range("a tensor of one element", "options.lossOut", loss_out->describe());
    require_no_alias(*loss_out, "options.lossOut", grad_logits, "options.out");
    require_no_alias(*loss_out, "options.lossOut", logits, "logits");
    require_no_alias(*loss_out, "options.lossOut", labels, "labels");
  }
  const VisionCoeffs c = era_vision_coeffs(p, n);
  require_finite(label_smoothing, "options.labelSmoothing");
  if (!(label_smoothing >= 0 && label_smoothing < 1))
    throw_range("a number in [0, 1)", "options.labelSmoothing", num(label_smoothing));

  auto bad_label = [&](int64_t row, int32_t value) {
    throw_range("class indices in [0, " + std::to_string(n) + ")", "labels",
                std::to_string(value) + " at row " + std::to_string(row));
  };

  double loss = 0;
  if (logits.device == Device::CPU) {
    // Checked before anything is written.
    const int32_t* y = labels.ptr<int32_t>();
    for (int64_t r = 0; r < rows; ++r)
      if (y[r] < 0 || y[r] >= n) bad_label(r, y[r]);
    loss = cpu::era_vision_cross_entropy_f32(grad_logits.ptr<float>(), logits.ptr<float>(), y,
                                             rows, n, c.s, c.b, label_smoothing);
    if (loss_out) *loss_out->ptr<float>() = static_cast<float>(loss);
  } else {
#ifdef ERA_WITH_CUDA
    cuda_rt::require("era.softmaxCrossEntropy");
    // Scratch: the per-row losses, then the result record (8-byte aligned), freed on any exit.
    const size_t loss_bytes = (static_cast<size_t>(rows) * sizeof(float) + 15) / 16 * 16;
    struct Scratch {
      void* ptr;
      ~Scratch() { cuda_rt::device_free(ptr); }
    } scratch{cuda_rt::device_alloc(loss_bytes + sizeof(cuda::CrossEntropyResult),
                                    "era.softmaxCrossEntropy")};
    auto* row_loss = static_cast<float*>(scratch.ptr);
    auto* result = reinterpret_cast<cuda::CrossEntropyResult*>(static_cast<char*>(scratch.ptr) + loss_bytes);
    cuda::era_vision_cross_entropy_f32(grad_logits.ptr<float>(), logits.ptr<float>(),
                                       labels.ptr<int32_t>(), rows, n, static_cast<float>(c.s),
                                       static_cast<float>(c.b),
                                       static_cast<float>(label_smoothing), row_loss, result,
                                       loss_out ? loss_out->ptr<float>() : nullptr, cuda_rt::stream());
    cuda_rt::check_launch("era.softmaxCrossEntropy");
    if (loss_out) return std::numeric_limits<double>::quiet_NaN();  // the loss stays on the device
    // The loss is a JS number, so this op synchronises; the labels are checked by the reduction
    // kernel and read back with the loss (no separate copy of the labels to the host).
    cuda::CrossEntropyResult host{};
    cuda_rt::download(&host, result, sizeof host, "era.softmaxCrossEntropy");
    if (host.bad_row >= 0) {
      int32_t value = 0;
      cuda_rt::download(&value, labels.ptr<int32_t>() + host.bad_row, sizeof value,
                        "era.softmaxCrossEntropy");
      bad_label(host.bad_row, value);
    }
    loss = host.loss;
#else
    cuda_rt::require("era.softmaxCrossEntropy");
#endif
  }
  return loss;
}

}  // namespace era::ops
