#include "optim.h"

#include <cmath>
#include <string>

#include "../cpu/optim.h"
#include "check.h"
#include "dispatch.h"
#include "gemm.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/optim.h"
#endif

namespace era::ops {

namespace {

void require_block(const TensorView& t, const char* name, const TensorView& ref, const char* ref_name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, ref, name, ref_name);
  if (t.numel != ref.numel)
    throw_range(std::to_string(ref.numel) + " elements (the size of " + ref_name + ")", name,
                t.describe());
  if (t.data != ref.data && overlaps(t, ref))
    throw_range(std::string("a tensor that does not share memory with ") + ref_name, name, t.describe());
  if (t.data == ref.data && t.numel > 0)
    throw_range(std::string("a tensor distinct from ") + ref_name, name, t.describe());
}

void require_range(double v, double lo, double hi, bool hi_open, const char* name) {
  require_finite(v, name);
  if (v < lo || (hi_open ? v >= hi : v > hi))
    throw_range("a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + (hi_open ? ")" : "]"),
                name, std::to_string(v));
}

void require_non_negative(double v, const char* name) {
  require_finite(v, name);
  if (v < 0) throw_range("a non-negative number", name, std::to_string(v));
}

}  // namespace

namespace {

// The device-counted form (see AdamOptions::step_counter); arguments already checked.
void adam_step_counted(const TensorView& p, const TensorView& g, const TensorView& m,
                       const TensorView& v, const AdamOptions& o) {
  const TensorView& c = *o.step_counter;
  require_dtype(c, {DType::I32}, "stepCounter");
  require_same_device(c, p, "stepCounter", "params");
  if (c.numel != 1) throw_range("a tensor of one element", "stepCounter", c.describe());
  AdamHyper h{static_cast<float>(o.lr), static_cast<float>(o.beta1), static_cast<float>(o.beta2),
              static_cast<float>(o.eps), static_cast<float>(o.weight_decay), 1.f, 1.f};
  dispatch(p.device, "adam",
           [&] {
             int32_t* counter = c.ptr<int32_t>();
             if (counter[0] < 0 || counter[0] == 2147483647)
               throw_range("a step count in [0, 2^31 - 2]", "stepCounter", std::to_string(counter[0]));
             counter[0] += 1;
             adam_bias_corrections(o.beta1, o.beta2, counter[0], h.bc1, h.bc2);
             cpu::adam_step(p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), p.numel, h);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::adam_step_counted(p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(),
                                                   p.numel, h, o.beta1, o.beta2, c.ptr<int32_t>(), s);)
             (void)s;
           });
}

}  // namespace

void adam_step(const TensorView& p, const TensorView& g, const TensorView& m, const TensorView& v,
               const AdamOptions& o) {
  require_dtype(p, {DType::F32}, "params");
  require_block(g, "grads", p, "params");
  require_block(m, "m", p, "params");
  require_block(v, "v", p, "params");
  require_block(v, "v", m, "m");
  require_block(m, "m", g, "grads");
  require_block(v, "v", g, "grads");
  require_non_negative(o.lr, "options.lr");
  require_range(o.beta1, 0, 1, true, "options.beta1");
  require_range(o.beta2, 0, 1, true, "options.beta2");
  require_non_negative(o.eps, "options.eps");
  require_non_negative(o.weight_decay, "options.weightDecay");
  if (o.step_counter) {
    adam_step_counted(p, g, m, v, o);
    return;
  }
  if (!(o.step >= 1) || o.step != std::floor(o.step) || o.step > 9007199254740991.0)
    throw_range("a positive integer", "step", std::to_string(o.step));
  const double bc1 = 1.0 - std::pow(o.beta1, o.step), bc2 = 1.0 - std::pow(o.beta2, o.step);
  if (!(bc2 > 0) || (!(bc1 > 0)))
    throw_range("a step count with non-zero bias corrections", "step", std::to_string(o.step));
  AdamHyper h{static_cast<float>(o.lr), static_cast<float>(o.beta1), static_cast<float>(o.beta2),
                   static_cast<float>(o.eps), static_cast<float>(o.weight_decay),
                   static_cast<float>(bc1), static_cast<float>(bc2)};
  dispatch(p.device, "adam",
           [&] { cpu::adam_step(p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), p.numel, h); },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::adam_step(p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), p.numel, h, s);)
             (void)s;
           });
}

void sgd_step(const TensorView& p, const TensorView& g, const TensorView* buf, const SgdOptions& o) {
  require_dtype(p, {DType::F32}, "params");
  require_block(g, "grads", p, "params");
  require_non_negative(o.lr, "options.lr");
  require_non_negative(o.momentum, "options.momentum");
  require_non_negative(o.weight_decay, "options.weightDecay");
  if (o.nesterov && !(o.momentum > 0))
    throw_range("a positive momentum (Nesterov needs one)", "options.momentum", std::to_string(o.momentum));
  if (o.momentum > 0) {
    if (!buf) throw_type("a Tensor (the momentum buffer)", "buf", "null");
    require_block(*buf, "buf", p, "params");
    require_block(*buf, "buf", g, "grads");
  }
  float* pb = o.momentum > 0 ? buf->ptr<float>() : nullptr;
  const float lr = static_cast<float>(o.lr), mom = static_cast<float>(o.momentum),
              wd = static_cast<float>(o.weight_decay);
  dispatch(p.device, "sgd",
           [&] { cpu::sgd_step(p.ptr<float>(), g.ptr<float>(), pb, p.numel, lr, mom, o.nesterov, wd); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::sgd_step(p.ptr<float>(), g.ptr<float>(), pb, p.numel, lr, mom, o.nesterov, wd, s);) (void)s; });
}

void clip_grad_norm(const std::vector<TensorView>& grads, double max_norm, const TensorView& norm_out) {
  require_dtype(norm_out, {DType::F32}, "options.out");
  if (norm_out.numel != 1) throw_range("one element (the norm)", "options.out", norm_out.describe());
  require_finite(max_norm, "maxNorm");
  if (!(max_norm > 0)) throw_range("a positive number", "maxNorm", std::to_string(max_norm));
  for (size_t i = 0; i < grads.size(); ++i) {
    const std::string name = "grads[" + std::to_string(i) + "]";
    require_dtype(grads[i], {DType::F32}, name.c_str());
    require_same_device(grads[i], norm_out, name.c_str(), "options.out");
    if (overlaps(grads[i], norm_out))
      throw_range("a tensor that does not share memory with " + name, "options.out", norm_out.describe());
    for (size_t j = 0; j < i; ++j)
      if (overlaps(grads[i], grads[j]))
        throw_range("a tensor that does not share memory with grads[" + std::to_string(j) + "]",
                    name.c_str(), grads[i].describe());
  }
  dispatch(norm_out.device, "clipGradNorm",
           [&] {
             double total = 0;
             for (const TensorView& g : grads) total += cpu::sum_squares(g.ptr<float>(), g.numel);
             const double norm = std::sqrt(total);
             norm_out.ptr<float>()[0] = static_cast<float>(norm);
             const double scale = norm < max_norm ? 1.0 : max_norm / norm;
             if (scale != 1.0)
               for (const TensorView& g : grads) cpu::scale_inplace(g.ptr<float>(), g.numel, static_cast<float>(scale));
           },
           [&](void* s) {
             ERA_CUDA_ONLY(
                 std::vector<float*> ptrs;
                 std::vector<int64_t> sizes;
                 for (const TensorView& g : grads) {
                   ptrs.push_back(g.ptr<float>());
                   sizes.push_back(g.numel);
                 }
                 cuda::clip_grad_norm(ptrs.data(), sizes.data(), static_cast<int>(grads.size()),
                                      static_cast<float>(max_norm), norm_out.ptr<float>(), s);)
             (void)s;
           });
}

void polyak_update(const TensorView& target, const TensorView& online, double tau) {
  require_dtype(target, {DType::F32}, "target");
  require_block(online, "online", target, "target");
  require_range(tau, 0, 1, false, "tau");
  const float t = static_cast<float>(tau);
  dispatch(target.device, "polyak",
           [&] { cpu::polyak(target.ptr<float>(), online.ptr<float>(), target.numel, t); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::polyak(target.ptr<float>(), online.ptr<float>(), target.numel, t, s);) (void)s; });
}

}  // namespace era::ops
