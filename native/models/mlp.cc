#include "mlp.h"

#include <algorithm>
#include <string>

#include "../core/cuda_runtime.h"
#include "../core/error.h"
#include "../ops/basic.h"
#include "../ops/gemm_strided.h"
#include "../ops/layers.h"
#include "grouped_matmul.h"
#include "region.h"

namespace era::models {

namespace {

// Every parameter tensor and workspace region starts on a 16-byte boundary, so the tensor-core
// GEMMs can use vector loads for every member.
constexpr int64_t kAlign = 4;
int64_t aligned(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

constexpr int64_t kMaxLayers = 64;
constexpr int64_t kMaxWidth = int64_t{1} << 24;

void require_size(int64_t v, const char* name) {
  if (v < 1 || v > kMaxWidth)
    throw_range("an integer between 1 and " + std::to_string(kMaxWidth), name, std::to_string(v));
}

}  // namespace

Mlp::Mlp(const MlpConfig& config) : cfg_(config) {
  require_size(cfg_.input, "options.inputSize");
  require_size(cfg_.output, "options.outputSize");
  if (static_cast<int64_t>(cfg_.hidden.size()) > kMaxLayers)
    throw_range("at most " + std::to_string(kMaxLayers) + " hidden layers", "options.hiddenSizes",
                std::to_string(cfg_.hidden.size()) + " layers");
  for (size_t i = 0; i < cfg_.hidden.size(); ++i)
    require_size(cfg_.hidden[i], ("options.hiddenSizes[" + std::to_string(i) + "]").c_str());
  if (cfg_.ensemble < 1 || cfg_.ensemble > 65535)
    throw_range("an integer between 1 and 65535", "options.ensemble", std::to_string(cfg_.ensemble));
  if (!(cfg_.eps > 0)) throw_range("a positive number", "eps", std::to_string(cfg_.eps));

  std::vector<int64_t> sizes{cfg_.input};
  sizes.insert(sizes.end(), cfg_.hidden.begin(), cfg_.hidden.end());
  sizes.push_back(cfg_.output);
  int64_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    params_.push_back({name, std::move(shape), off});
    count_ += n;
    off = aligned(off + n);
    return params_.back().offset;
  };
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    Layer layer;
    layer.in = sizes[l];
    layer.out = sizes[l + 1];
    layer.hidden = l + 2 < sizes.size();
    const std::string idx = std::to_string(l);
    layer.w = add("layers." + idx + ".weight", {layer.in, layer.out});
    layer.b = add("layers." + idx + ".bias", {layer.out});
    if (layer.hidden && cfg_.layer_norm) {
      layer.ln_w = add("norms." + idx + ".weight", {layer.out});
      layer.ln_b = add("norms." + idx + ".bias", {layer.out});
    }
    widest_ = std::max(widest_, layer.out);
    layers_.push_back(layer);
  }
  stride_ = off;
}

const MlpWorkspace& Mlp::workspace(int64_t capacity) const {
  if (layout_.capacity == capacity && capacity > 0) return layout_;
  const int64_t e = cfg_.ensemble, c = capacity;
  MlpWorkspace& w = layout_;
  w = MlpWorkspace();
  w.capacity = c;
  int64_t off = 0;
  auto take = [&](int64_t n) {
    const int64_t at = off;
    off = aligned(off + n);
    return at;
  };
  w.x = take(e * c * cfg_.input);
  for (const Layer& l : layers_) {
    if (!l.hidden) continue;
    const bool ln = l.ln_w >= 0;
    w.z.push_back(ln ? take(e * c * l.out) : -1);
    w.mean.push_back(ln ? take(e * c) : -1);
    w.rstd.push_back(ln ? take(e * c) : -1);
    w.h.push_back(take(e * c * l.out));
  }
  w.y = take(e * c * cfg_.output);
  w.grad_a = take(e * c * widest_);
  w.grad_b = take(e * c * widest_);
  w.dx_members = take(e * c * cfg_.input);
  w.dx = take(e * c * cfg_.input);
  w.ones = take(c);
  w.size = off;
  return w;
}

void Mlp::check_buffers(const MlpBuffers& b) const {
  const int64_t n = cfg_.ensemble * stride_;
  const TensorView* blocks[] = {&b.params, &b.grads, &b.workspace};
  const char* names[] = {"params", "grads", "workspace"};
  for (int i = 0; i < 3; ++i) {
    if (blocks[i]->dtype != DType::F32) throw_type("an f32 tensor", names[i], blocks[i]->describe());
    if (blocks[i]->device != b.params.device)
      throw_type(std::string("a ") + device_name(b.params.device) + " tensor (the device of params)",
                 names[i], blocks[i]->describe());
  }
  if (ops::overlaps(b.params, b.grads) || ops::overlaps(b.params, b.workspace) ||
      ops::overlaps(b.grads, b.workspace))
    throw_range("separate memory for params, grads and workspace", "params", "overlapping blocks");
  if (b.params.numel != n) throw_range(std::to_string(n) + " elements", "params", b.params.describe());
  if (b.grads.numel != n) throw_range(std::to_string(n) + " elements", "grads", b.grads.describe());
  if (b.capacity < 1) throw_range("a positive batch capacity", "capacity", std::to_string(b.capacity));
  const int64_t need = workspace(b.capacity).size;
  if (b.workspace.numel < need)
    throw_range("at least " + std::to_string(need) + " elements (the workspace for a batch of " +
                    std::to_string(b.capacity) + ")",
                "workspace", b.workspace.describe());
}

void Mlp::attach_workspace(const MlpBuffers& b) {
  check_buffers(b);
  // The ones below are written by a kernel. While a graph records, that kernel would only run at
  // the first replay, and an eager backward before it would read whatever the block held.
  if (b.workspace.device == Device::CUDA && cuda_rt::capturing())
    throw_range("a workspace attached before the CUDA graph recording began (run the work once first)",
                "workspace", b.workspace.describe());
  const MlpWorkspace& w = workspace(b.capacity);
  ops::fill(region(b.workspace, w.ones, {b.capacity}), 1.0);
  batch_ = groups_ = forward_capacity_ = 0;
  forward_workspace_ = nullptr;
}

void Mlp::forward(const MlpBuffers& buf, const TensorView& x) {
  check_buffers(buf);
  const int64_t e = cfg_.ensemble;
  if (x.dtype != DType::F32) throw_type("an f32 tensor", "x", x.describe());
  if (x.device != buf.params.device)
    throw_type(std::string("a ") + device_name(buf.params.device) + " tensor (the model's device)",
               "x", x.describe());
  const bool shared = x.ndim == 2;
  const int64_t groups = shared ? 1 : x.ndim == 3 ? x.shape[0] : 0;
  const bool ok = (x.ndim == 2 || x.ndim == 3) && x.shape[x.ndim - 1] == cfg_.input && groups >= 1 &&
                  e % groups == 0 && x.shape[x.ndim - 2] >= 1;
  if (!ok)
    throw_range("shape [B, " + std::to_string(cfg_.input) + "] or [G, B, " +
                    std::to_string(cfg_.input) + "] with G dividing the ensemble of " +
                    std::to_string(e) + " and B >= 1",
                "x", x.describe());
  const int64_t batch = x.shape[x.ndim - 2];
  if (batch > buf.capacity)
    throw_range("at most " + std::to_string(buf.capacity) + " rows (the workspace's capacity)", "x",
                x.describe());
  const MlpWorkspace& w = workspace(buf.capacity);
  const TensorView& ws = buf.workspace;
  const TensorView& p = buf.params;
  forward_workspace_ = nullptr;  // a failure below leaves no usable forward behind

  ops::copy(region(ws, w.x, {groups * batch * cfg_.input}), x);
  ops::MatmulOptions mo;
  mo.precision = cfg_.precision;
  int64_t hidden = 0;
  for (const Layer& l : layers_) {
    const bool ln = l.ln_w >= 0;
    // Input: the copied x (groups of members share it) for the first layer, else the previous h.
    const bool first = &l == &layers_.front();
    const ops::StridedMatrices in = first ? ops::StridedMatrices{ws, w.x, batch * l.in}
                                          : ops::StridedMatrices{ws, w.h[hidden - 1], batch * l.in};
    const int64_t target = !l.hidden ? w.y : ln ? w.z[hidden] : w.h[hidden];
    mo.act = !l.hidden ? cfg_.out_act : ln ? Activation::None : cfg_.act;
    const ops::StridedMatrices out{ws, target, batch * l.out};
    const ops::StridedMatrices wt{p, l.w, stride_};
    const ops::StridedMatrices bias{p, l.b, stride_};
    grouped_matmul(out, in, wt, &bias, first ? groups : e, {batch, l.out, l.in, e}, mo);
    if (ln) {
      const int64_t rows = e * batch;
      const TensorView h = region(ws, w.h[hidden], {rows, l.out});
      ops::layer_norm_members(h, region(ws, w.mean[hidden], {rows}), region(ws, w.rstd[hidden], {rows}),
                              region(ws, w.z[hidden], {rows, l.out}), {p, l.ln_w, stride_},
                              {p, l.ln_b, stride_}, e, cfg_.eps, cfg_.act);
    }
    if (l.hidden) ++hidden;
  }
  batch_ = batch;
  groups_ = groups;
  forward_capacity_ = buf.capacity;
  forward_workspace_ = ws.data;
}

void Mlp::backward(const MlpBuffers& buf, const TensorView& dy, bool input_grad, bool param_grads,
                   bool accumulate) {
  check_buffers(buf);
  if (!forward_workspace_ || forward_workspace_ != buf.workspace.data || forward_capacity_ != buf.capacity)
    throw_range("a backward() after a forward() on this workspace", "backward",
                "no forward pass to differentiate");
  const int64_t e = cfg_.ensemble, batch = batch_;
  if (dy.dtype != DType::F32) throw_type("an f32 tensor", "dy", dy.describe());
  if (dy.device != buf.params.device)
    throw_type(std::string("a ") + device_name(buf.params.device) + " tensor (the model's device)",
               "dy", dy.describe());
  const bool ok3 = dy.ndim == 3 && dy.shape[0] == e && dy.shape[1] == batch && dy.shape[2] == cfg_.output;
  const bool ok2 = dy.ndim == 2 && e == 1 && dy.shape[0] == batch && dy.shape[1] == cfg_.output;
  if (!ok3 && !ok2)
    throw_range("shape [" + std::to_string(e) + ", " + std::to_string(batch) + ", " +
                    std::to_string(cfg_.output) + "] (the last forward's output)",
                "dy", dy.describe());
  if (!input_grad && !param_grads) return;

  const MlpWorkspace& w = workspace(buf.capacity);
  const TensorView& ws = buf.workspace;
  const TensorView& p = buf.params;
  const TensorView& g = buf.grads;
  ops::MatmulOptions mo;
  mo.precision = cfg_.precision;
  ops::MatmulOptions bias_opts;  // bias gradients: ones · dz, exact f32
  bias_opts.accumulate = accumulate;

  // The incoming gradient of the current layer's output, and where it lives.
  TensorView grad = region(dy, 0, {e * batch * cfg_.output});
  int64_t grad_at = -1;  // workspace offset of `grad` (-1: the caller's dy, read only)
  int64_t hidden = static_cast<int64_t>(w.h.size());
  const auto other = [&](int64_t at) { return at == w.grad_a ? w.grad_b : w.grad_a; };
  for (size_t li = layers_.size(); li-- > 0;) {
    const Layer& l = layers_[li];
    const bool ln = l.ln_w >= 0;
    const int64_t rows = e * batch, n = rows * l.out;
    if (l.hidden) --hidden;
    // dz: the gradient of the GEMM's output (before LayerNorm and the activation).
    TensorView dz = grad;
    int64_t dz_at = grad_at;
    const Activation act = l.hidden ? cfg_.act : cfg_.out_act;
    const TensorView y = region(ws, l.hidden ? w.h[hidden] : w.y, {n});
    if (ln) {
      // The activation's backward and this layer's bias gradient run inside the LayerNorm's.
      const int64_t out_at = grad_at < 0 ? w.grad_a : other(grad_at);
      const TensorView dln = region(ws, out_at, {rows, l.out});
      const TensorView act_out = region(y, 0, {rows, l.out});
      const ops::ParamRows dw{g, l.ln_w, stride_}, db{g, l.ln_b, stride_}, dlinear_b{g, l.b, stride_};
      ops::LayerNormBackwardFusion fused;
      fused.act_out = act != Activation::None ? &act_out : nullptr;
      fused.act = act;
      fused.dx_colsum = param_grads ? &dlinear_b : nullptr;
      ops::layer_norm_members_backward(&dln, param_grads ? &dw : nullptr, param_grads ? &db : nullptr,
                                       region(grad, 0, {rows, l.out}), region(ws, w.z[hidden], {rows, l.out}),
                                       {p, l.ln_w, stride_}, region(ws, w.mean[hidden], {rows}),
                                       region(ws, w.rstd[hidden], {rows}), e, accumulate, fused);
      dz = dln;
      dz_at = out_at;
    } else if (act != Activation::None) {
      if (grad_at < 0) {  // never write into the caller's dy
        dz_at = w.grad_a;
        dz = region(ws, dz_at, {n});
      }
      const TensorView dz_rows = region(dz, 0, {rows, l.out});
      if (param_grads)  // with this layer's bias gradient in the same pass
        ops::activation_backward_members(dz_rows, region(grad, 0, {rows, l.out}), region(y, 0, {rows, l.out}),
                                         act, {g, l.b, stride_}, e, accumulate);
      else
        ops::activation_backward(dz, grad, y, act);
    }
    // Whether the kernels above also wrote the bias gradient (only a layer with neither LayerNorm
    // nor activation leaves it to the GEMM below).
    const bool bias_fused = ln || act != Activation::None;
    const bool first = li == 0;
    const int64_t in_at = first ? w.x : w.h[hidden - 1];
    const int64_t in_groups = first ? groups_ : e;
    if (param_grads) {
      // dW_e += x_eᵀ · dz_e ; db_e += ones · dz_e
      ops::MatmulOptions wo = mo;
      wo.trans_a = true;
      wo.accumulate = accumulate;
      grouped_matmul({g, l.w, stride_}, {ws, in_at, batch * l.in}, {dz, 0, batch * l.out}, nullptr,
                     in_groups, {l.in, l.out, batch, e}, wo);
      if (!bias_fused)
        ops::matmul_strided({g, l.b, stride_}, {ws, w.ones, 0}, {dz, 0, batch * l.out}, nullptr,
                            {1, l.out, batch, e}, bias_opts);
    }
    if (first && !input_grad) break;
    // dx_e = dz_e · W_eᵀ: into a ping-pong buffer for the layer below, or the input gradient.
    ops::MatmulOptions xo = mo;
    xo.trans_b = true;
    const bool sum_groups = first && groups_ < e;
    const int64_t dst = !first ? other(dz_at) : sum_groups ? w.dx_members : w.dx;
    ops::matmul_strided({ws, dst, batch * l.in}, {dz, 0, batch * l.out}, {p, l.w, stride_}, nullptr,
                        {batch, l.in, l.out, e}, xo);
    if (sum_groups) {
      // Members of a group read the same input: their input gradients add up.
      const int64_t per = e / groups_, cols = batch * l.in;
      ops::reduce_sum_blocks(region(ws, w.dx, {groups_, cols}),
                             region(ws, w.dx_members, {groups_, per, cols}));
    }
    grad = region(ws, dst, {rows * l.in});
    grad_at = dst;
  }
}

}  // namespace era::models
