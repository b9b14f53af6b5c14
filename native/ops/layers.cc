#include "layers.h"

#include <string>

#include "../cpu/layers.h"
#include "check.h"
#include "dispatch.h"
#include "gemm.h"
#include "strided_overlap.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/layers.h"
#endif

namespace era::ops {

namespace {

// Host scratch of at least n floats, kept per thread and slot between calls, so a CPU training
// step at a fixed size allocates nothing (the CPU LayerNorm backward's temporaries).
float* host_scratch(int slot, int64_t n) {
  static thread_local std::vector<float> buffers[2];
  std::vector<float>& b = buffers[slot];
  if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
  return b.data();
}

void require_f32_like(const TensorView& t, const char* name, const TensorView& ref, const char* ref_name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, ref, name, ref_name);
}

// The last dim of a tensor with at least one dim (the feature dim of the row-wise ops).
int64_t last_dim(const TensorView& t, const char* name) {
  if (t.ndim < 1) throw_range("a tensor with at least one dimension [..., d]", name, t.describe());
  return t.shape[t.ndim - 1];
}

void require_count(const TensorView& t, int64_t count, const char* name, const char* what) {
  if (t.numel != count)
    throw_range(std::to_string(count) + " elements (" + what + ")", name, t.describe());
}

// Shape of `t` without its last (drop_last) or first dim.
bool is_reduced_shape(const TensorView& out, const TensorView& x, bool drop_last) {
  if (out.ndim != x.ndim - 1) return false;
  for (int i = 0; i < out.ndim; ++i)
    if (out.shape[i] != x.shape[drop_last ? i : i + 1]) return false;
  return true;
}

std::string reduced_shape_string(const TensorView& x, bool drop_last) {
  std::string s = "[";
  for (int i = drop_last ? 0 : 1, k = 0; i < (drop_last ? x.ndim - 1 : x.ndim); ++i, ++k)
    s += (k ? ", " : "") + std::to_string(x.shape[i]);
  return s + "]";
}

}  // namespace

void activation(const TensorView& y, const TensorView& x, Activation act) {
  require_dtype(x, {DType::F32}, "x");
  require_f32_like(y, "options.out", x, "x");
  require_same_shape(y, x, "options.out", "x");
  if (y.data != x.data) require_no_alias(y, "options.out", x, "x");
  dispatch(x.device, activation_name(act),
           [&] { cpu::activation_forward(y.ptr<float>(), x.ptr<float>(), x.numel, act); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::activation_forward(y.ptr<float>(), x.ptr<float>(), x.numel, act, s);) (void)s; });
}

namespace {

// dx, dy and y of an activation backward: f32, one shape; dx may be dy or y but not overlap them.
void check_activation_backward(const TensorView& dx, const TensorView& dy, const TensorView& y) {
  require_dtype(dy, {DType::F32}, "dy");
  require_f32_like(y, "y", dy, "dy");
  require_same_shape(y, dy, "y", "dy");
  require_f32_like(dx, "options.out", dy, "dy");
  require_same_shape(dx, dy, "options.out", "dy");
  if (dx.data != dy.data) require_no_alias(dx, "options.out", dy, "dy");
  if (dx.data != y.data) require_no_alias(dx, "options.out", y, "y");
}

}  // namespace

void activation_backward(const TensorView& dx, const TensorView& dy, const TensorView& y,
                         Activation act) {
  check_activation_backward(dx, dy, y);
  dispatch(dy.device, "activationBackward",
           [&] { cpu::activation_backward(dx.ptr<float>(), dy.ptr<float>(), y.ptr<float>(), dy.numel, act); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::activation_backward(dx.ptr<float>(), dy.ptr<float>(), y.ptr<float>(), dy.numel, act, s);) (void)s; });
}

namespace {

// The parameter rows of an ensemble LayerNorm: f32 on x's device, `members` rows of d elements
// inside p.t. Returns where they lie (for the alias checks).
Strided check_param_rows(const ParamRows& p, int64_t members, int64_t d, const TensorView& x,
                         const char* name, bool is_output) {
  require_f32_like(p.t, name, x, "x");
  if (p.offset < 0 || p.stride < 0)
    throw_range("a non-negative offset and stride", name,
                "offset " + std::to_string(p.offset) + ", stride " + std::to_string(p.stride));
  if (is_output && members > 1 && p.stride < d)
    throw_range("gradient rows that do not overlap (a stride of at least " + std::to_string(d) + ")",
                name, "stride " + std::to_string(p.stride));
  const int64_t room = p.t.numel - p.offset;
  if (room < d || (members > 1 && p.stride > 0 && members - 1 > (room - d) / p.stride))
    throw_range(std::to_string(members) + " rows of " + std::to_string(d) + " elements at offset " +
                    std::to_string(p.offset) + ", stride " + std::to_string(p.stride),
                name, p.t.describe());
  return {p.t.ptr<float>() + p.offset, p.t.device, 4, members, p.stride, d};
}

void require_apart(const Strided& out, const char* out_name, const Strided& in, const char* in_name,
                   const TensorView& out_t) {
  if (strided_overlap(out, in))
    throw_range(std::string("a tensor that does not share memory with ") + in_name, out_name,
                out_t.describe());
}

// weight [d] (members 1) or [E, d] with E = x.shape[0]: the member count and the row stride.
void public_param_layout(const TensorView& w, const TensorView& x, int64_t d, const char* name,
                         int64_t& members, int64_t& stride) {
  require_f32_like(w, name, x, "x");
  if (w.ndim == 1 && w.shape[0] == d) {
    members = 1;
    stride = 0;
    return;
  }
  if (w.ndim == 2 && x.ndim >= 2 && w.shape[0] == x.shape[0] && w.shape[1] == d) {
    members = w.shape[0];
    stride = d;
    return;
  }
  throw_range("shape [" + std::to_string(d) + "] (the last dim of x)" +
                  (x.ndim >= 2 ? " or [" + std::to_string(x.shape[0]) + ", " + std::to_string(d) +
                                     "] (an ensemble: the first and last dims of x)"
                               : std::string()),
              name, w.describe());
}

// Rows of x and the rows per member; checks that the members split the rows evenly.
// An f32 x [..., d] with d >= 1 whose rows form `members` equal blocks: its d and row count.
struct MemberRows {
  int64_t d, rows;
};
MemberRows f32_member_rows(const TensorView& x, const char* name, int64_t members);

int64_t member_rows(const TensorView& x, int64_t d, int64_t members) {
  if (members < 1) throw_range("at least one ensemble member", "members", std::to_string(members));
  const int64_t rows = x.numel / d;
  if (rows % members != 0)
    throw_range(std::to_string(members) + " equal blocks of rows (one per ensemble member)", "x",
                x.describe());
  if (x.device == Device::CUDA && members > 65535)
    throw_range("at most 65535 ensemble members on cuda", "members", std::to_string(members));
  return rows;
}

MemberRows f32_member_rows(const TensorView& x, const char* name, int64_t members) {
  require_dtype(x, {DType::F32}, name);
  const int64_t d = last_dim(x, name);
  if (d < 1) throw_range("a last dimension of at least 1", name, x.describe());
  return {d, member_rows(x, d, members)};
}

}  // namespace

void activation_backward_members(const TensorView& dx, const TensorView& dy, const TensorView& y,
                                 Activation act, const ParamRows& colsum, int64_t members,
                                 bool accumulate) {
  const MemberRows shape = f32_member_rows(dy, "dy", members);
  const int64_t d = shape.d, rows = shape.rows;
  check_activation_backward(dx, dy, y);
  const Strided cs = check_param_rows(colsum, members, d, dy, "colsum", true);
  for (const TensorView* t : {&dx, &dy, &y}) require_apart(cs, "colsum", whole(*t), "an input or dx", colsum.t);
  float* pcs = static_cast<float*>(const_cast<void*>(cs.data));
  const int64_t stride = colsum.stride, per = rows / members;
  dispatch(dy.device, "activationBackward",
           [&] {
             cpu::activation_backward(dx.ptr<float>(), dy.ptr<float>(), y.ptr<float>(), dy.numel, act);
             for (int64_t e = 0; e < members; ++e)
               cpu::reduce_first(pcs + e * stride, dx.ptr<float>() + e * per * d, per, d, 1.0, accumulate);
           },
           [&](void* s) { ERA_CUDA_ONLY(cuda::activation_backward_colsum(dx.ptr<float>(), pcs, dy.ptr<float>(), y.ptr<float>(), rows, d, act, accumulate, members, stride, s);) (void)s; });
}

void layer_norm(const TensorView& y, const TensorView& mean, const TensorView& rstd,
                const TensorView& x, const TensorView& weight, const TensorView& bias, double eps) {
  require_dtype(x, {DType::F32}, "x");
  const int64_t d = last_dim(x, "x");
  if (d < 1) throw_range("a last dimension of at least 1", "x", x.describe());
  int64_t members = 1, stride = 0;
  public_param_layout(weight, x, d, "weight", members, stride);
  require_f32_like(bias, "bias", x, "x");
  require_same_shape(bias, weight, "bias", "weight");
  layer_norm_members(y, mean, rstd, x, {weight, 0, stride}, {bias, 0, stride}, members, eps);
}

void layer_norm_members(const TensorView& y, const TensorView& mean, const TensorView& rstd,
                        const TensorView& x, const ParamRows& weight, const ParamRows& bias,
                        int64_t members, double eps, Activation act) {
  const MemberRows shape = f32_member_rows(x, "x", members);
  const int64_t d = shape.d, rows = shape.rows;
  const Strided w = check_param_rows(weight, members, d, x, "weight", false);
  const Strided b = check_param_rows(bias, members, d, x, "bias", false);
  require_f32_like(y, "options.out", x, "x");
  require_same_shape(y, x, "options.out", "x");
  require_f32_like(mean, "options.mean", x, "x");
  require_count(mean, rows, "options.mean", "one per row of x");
  require_f32_like(rstd, "options.rstd", x, "x");
  require_count(rstd, rows, "options.rstd", "one per row of x");
  require_finite(eps, "options.eps");
  if (!(eps > 0)) throw_range("a positive number", "options.eps", std::to_string(eps));
  require_no_alias(y, "options.out", x, "x");
  for (const Strided& in : {whole(x), w, b}) {
    require_apart(whole(y), "options.out", in, "an input", y);
    require_apart(whole(mean), "options.mean", in, "an input", mean);
    require_apart(whole(rstd), "options.rstd", in, "an input", rstd);
  }
  require_no_alias(mean, "options.mean", rstd, "options.rstd");
  require_no_alias(y, "options.out", mean, "options.mean");
  require_no_alias(y, "options.out", rstd, "options.rstd");
  const float e = static_cast<float>(eps);
  const float* pw = static_cast<const float*>(w.data);
  const float* pb = static_cast<const float*>(b.data);
  const int64_t ws = weight.stride, bs = bias.stride;
  dispatch(x.device, "layerNorm",
           [&] {
             cpu::layer_norm_forward(y.ptr<float>(), mean.ptr<float>(), rstd.ptr<float>(), x.ptr<float>(), pw, pb, rows, d, e, members, ws, bs);
             if (act != Activation::None) cpu::activation_forward(y.ptr<float>(), y.ptr<float>(), y.numel, act);
           },
           [&](void* s) { ERA_CUDA_ONLY(cuda::layer_norm_forward(y.ptr<float>(), mean.ptr<float>(), rstd.ptr<float>(), x.ptr<float>(), pw, pb, rows, d, e, members, ws, bs, act, s);) (void)s; });
}

void layer_norm_backward(const TensorView* dx, const TensorView* dweight, const TensorView* dbias,
                         const TensorView& dy, const TensorView& x, const TensorView& weight,
                         const TensorView& mean, const TensorView& rstd, bool accumulate) {
  require_dtype(x, {DType::F32}, "x");
  const int64_t d = last_dim(x, "x");
  if (d < 1) throw_range("a last dimension of at least 1", "x", x.describe());
  int64_t members = 1, stride = 0;
  public_param_layout(weight, x, d, "weight", members, stride);
  ParamRows dw, db;
  if (dweight) {
    require_f32_like(*dweight, "options.dWeight", x, "x");
    require_same_shape(*dweight, weight, "options.dWeight", "weight");
    dw = {*dweight, 0, stride};
  }
  if (dbias) {
    require_f32_like(*dbias, "options.dBias", x, "x");
    require_same_shape(*dbias, weight, "options.dBias", "weight");
    db = {*dbias, 0, stride};
  }
  layer_norm_members_backward(dx, dweight ? &dw : nullptr, dbias ? &db : nullptr, dy, x,
                              {weight, 0, stride}, mean, rstd, members, accumulate);
}

void layer_norm_members_backward(const TensorView* dx, const ParamRows* dweight,
                                 const ParamRows* dbias, const TensorView& dy, const TensorView& x,
                                 const ParamRows& weight, const TensorView& mean,
                                 const TensorView& rstd, int64_t members, bool accumulate,
                                 const LayerNormBackwardFusion& fused) {
  const MemberRows shape = f32_member_rows(x, "x", members);
  const int64_t d = shape.d, rows = shape.rows;
  require_f32_like(dy, "dy", x, "x");
  require_same_shape(dy, x, "dy", "x");
  const Strided w = check_param_rows(weight, members, d, x, "weight", false);
  require_f32_like(mean, "mean", x, "x");
  require_count(mean, rows, "mean", "one per row of x");
  require_f32_like(rstd, "rstd", x, "x");
  require_count(rstd, rows, "rstd", "one per row of x");
  const TensorView* ya = fused.act_out;
  if (ya) {
    require_f32_like(*ya, "actOut", x, "x");
    require_same_shape(*ya, x, "actOut", "x");
  }
  const Strided inputs[] = {whole(dy), whole(x), w, whole(mean), whole(rstd),
                            ya ? whole(*ya) : whole(x)};
  if (dx) {
    require_f32_like(*dx, "options.dx", x, "x");
    require_same_shape(*dx, x, "options.dx", "x");
    for (const Strided& in : inputs) require_apart(whole(*dx), "options.dx", in, "an input", *dx);
  }
  Strided dws, dbs;
  if (dweight) {
    dws = check_param_rows(*dweight, members, d, x, "options.dWeight", true);
    for (const Strided& in : inputs) require_apart(dws, "options.dWeight", in, "an input", dweight->t);
    if (dx) require_apart(dws, "options.dWeight", whole(*dx), "options.dx", dweight->t);
  }
  if (dbias) {
    dbs = check_param_rows(*dbias, members, d, x, "options.dBias", true);
    for (const Strided& in : inputs) require_apart(dbs, "options.dBias", in, "an input", dbias->t);
    if (dx) require_apart(dbs, "options.dBias", whole(*dx), "options.dx", dbias->t);
    if (dweight) require_apart(dbs, "options.dBias", dws, "options.dWeight", dbias->t);
  }
  Strided dxs;
  if (fused.dx_colsum) {
    if (!dx) throw_range("a dx to sum (column sums of dx need dx)", "dxColumnSums", "no dx");
    dxs = check_param_rows(*fused.dx_colsum, members, d, x, "dxColumnSums", true);
    for (const Strided& in : inputs) require_apart(dxs, "dxColumnSums", in, "an input", fused.dx_colsum->t);
    require_apart(dxs, "dxColumnSums", whole(*dx), "options.dx", fused.dx_colsum->t);
    if (dweight) require_apart(dxs, "dxColumnSums", dws, "options.dWeight", fused.dx_colsum->t);
    if (dbias) require_apart(dxs, "dxColumnSums", dbs, "options.dBias", fused.dx_colsum->t);
  }
  float* pdx = dx ? dx->ptr<float>() : nullptr;
  float* pdxs = fused.dx_colsum ? static_cast<float*>(const_cast<void*>(dxs.data)) : nullptr;
  const int64_t dxs_stride = fused.dx_colsum ? fused.dx_colsum->stride : 0;
  const Activation act = ya ? fused.act : Activation::None;
  float* pdw = dweight ? static_cast<float*>(const_cast<void*>(dws.data)) : nullptr;
  float* pdb = dbias ? static_cast<float*>(const_cast<void*>(dbs.data)) : nullptr;
  if (!pdx && !pdw && !pdb) return;
  const float* pw = static_cast<const float*>(w.data);
  const int64_t ws = weight.stride;
  const int64_t dws_stride = dweight ? dweight->stride : 0, dbs_stride = dbias ? dbias->stride : 0;
  dispatch(x.device, "layerNormBackward",
           [&] {
             // The CPU composes the fused forms from the plain kernels (it has no launches to save).
             const float* pdy = dy.ptr<float>();
             if (ya) {
               float* g = host_scratch(0, x.numel);
               cpu::activation_backward(g, pdy, ya->ptr<float>(), x.numel, act);
               pdy = g;
             }
             // The CPU kernel always writes dx: give it scratch when the caller does not want it.
             cpu::layer_norm_backward(pdx ? pdx : host_scratch(1, x.numel), pdw, pdb, pdy, x.ptr<float>(), pw, mean.ptr<float>(), rstd.ptr<float>(), rows, d, accumulate, members, ws, dws_stride, dbs_stride);
             const int64_t per = rows / members;
             if (pdxs)
               for (int64_t e = 0; e < members; ++e)
                 cpu::reduce_first(pdxs + e * dxs_stride, pdx + e * per * d, per, d, 1.0, accumulate);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(
                 cuda::LayerNormFusion f;
                 f.act_out = ya ? ya->ptr<float>() : nullptr;
                 f.act = act;
                 f.dx_colsum = pdxs;
                 f.dx_colsum_stride = dxs_stride;
                 cuda::layer_norm_backward(pdx, pdw, pdb, dy.ptr<float>(), x.ptr<float>(), pw, mean.ptr<float>(), rstd.ptr<float>(), rows, d, accumulate, members, ws, dws_stride, dbs_stride, f, s);)
             (void)s;
           });
}

namespace {

// Checks the parts of a concat/split against the whole; returns each part's column count.
std::vector<int64_t> check_parts(const TensorView& whole, const char* whole_name,
                                 const std::vector<TensorView>& parts, const char* parts_name) {
  require_dtype(whole, {DType::F32}, whole_name);
  const int64_t total = last_dim(whole, whole_name);
  if (parts.empty()) throw_range("at least one tensor", parts_name, "an empty array");
  std::vector<int64_t> cols;
  int64_t sum = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string name = std::string(parts_name) + "[" + std::to_string(i) + "]";
    const TensorView& p = parts[i];
    require_dtype(p, {DType::F32}, name.c_str());
    require_same_device(p, whole, name.c_str(), whole_name);
    bool lead_ok = p.ndim == whole.ndim;
    for (int k = 0; lead_ok && k < whole.ndim - 1; ++k) lead_ok = p.shape[k] == whole.shape[k];
    if (!lead_ok)
      throw_range("a tensor with the leading dims of " + std::string(whole_name) + " " +
                      whole.shape_string(),
                  name.c_str(), p.describe());
    require_no_alias(p, name.c_str(), whole, whole_name);
    cols.push_back(p.shape[p.ndim - 1]);
    sum += cols.back();
  }
  if (sum != total)
    throw_range("a last dim of " + std::to_string(sum) + " (the sum of the parts' last dims)",
                whole_name, whole.describe());
  return cols;
}

}  // namespace

void concat(const TensorView& out, const std::vector<TensorView>& inputs) {
  const std::vector<int64_t> cols = check_parts(out, "options.out", inputs, "inputs");
  const int64_t total = out.shape[out.ndim - 1];
  const int64_t rows = total ? out.numel / total : 0;
  std::vector<float*> parts;
  for (const TensorView& in : inputs) parts.push_back(const_cast<float*>(in.ptr<float>()));
  dispatch(out.device, "concat",
           [&] {
             int64_t off = 0;
             for (size_t i = 0; i < parts.size(); off += cols[i], ++i)
               cpu::copy_columns(out.ptr<float>(), total, off, parts[i], cols[i], 0, rows, cols[i]);
           },
           [&](void* s) { ERA_CUDA_ONLY(cuda::copy_column_parts(out.ptr<float>(), total, parts.data(), cols.data(), parts.size(), rows, true, s);) (void)s; });
}

void split(const std::vector<TensorView>& outs, const TensorView& x) {
  const std::vector<int64_t> cols = check_parts(x, "x", outs, "options.out");
  for (size_t i = 0; i < outs.size(); ++i)
    for (size_t j = i + 1; j < outs.size(); ++j)
      if (overlaps(outs[i], outs[j]))
        throw_range("tensors that do not share memory", "options.out", "overlapping outputs " +
                    std::to_string(i) + " and " + std::to_string(j));
  const int64_t total = x.shape[x.ndim - 1];
  const int64_t rows = total ? x.numel / total : 0;
  std::vector<float*> parts;
  for (const TensorView& o : outs) parts.push_back(o.ptr<float>());
  dispatch(x.device, "split",
           [&] {
             int64_t off = 0;
             for (size_t i = 0; i < parts.size(); off += cols[i], ++i)
               cpu::copy_columns(parts[i], cols[i], 0, x.ptr<float>(), total, off, rows, cols[i]);
           },
           [&](void* s) { ERA_CUDA_ONLY(cuda::copy_column_parts(const_cast<float*>(x.ptr<float>()), total, parts.data(), cols.data(), parts.size(), rows, false, s);) (void)s; });
}

void mse_loss(const TensorView& out, const TensorView& pred, const TensorView& target) {
  require_dtype(pred, {DType::F32}, "pred");
  require_f32_like(target, "target", pred, "pred");
  require_same_shape(target, pred, "target", "pred");
  if (pred.numel == 0) throw_range("a non-empty tensor", "pred", pred.describe());
  require_f32_like(out, "options.out", pred, "pred");
  require_count(out, 1, "options.out", "a scalar");
  require_no_alias(out, "options.out", pred, "pred");
  require_no_alias(out, "options.out", target, "target");
  dispatch(pred.device, "mseLoss",
           [&] { cpu::mse_forward(out.ptr<float>(), pred.ptr<float>(), target.ptr<float>(), pred.numel); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::mse_forward(out.ptr<float>(), pred.ptr<float>(), target.ptr<float>(), pred.numel, s);) (void)s; });
}

void mse_loss_backward(const TensorView& grad, const TensorView& pred, const TensorView& target,
                       double scale) {
  require_dtype(pred, {DType::F32}, "pred");
  require_f32_like(target, "target", pred, "pred");
  require_same_shape(target, pred, "target", "pred");
  if (pred.numel == 0) throw_range("a non-empty tensor", "pred", pred.describe());
  require_f32_like(grad, "options.out", pred, "pred");
  require_same_shape(grad, pred, "options.out", "pred");
  require_finite(scale, "options.scale");
  if (grad.data != pred.data) require_no_alias(grad, "options.out", pred, "pred");
  if (grad.data != target.data) require_no_alias(grad, "options.out", target, "target");
  const float sc = static_cast<float>(scale);
  dispatch(pred.device, "mseLossBackward",
           [&] { cpu::mse_backward(grad.ptr<float>(), pred.ptr<float>(), target.ptr<float>(), pred.numel, sc); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::mse_backward(grad.ptr<float>(), pred.ptr<float>(), target.ptr<float>(), pred.numel, sc, s);) (void)s; });
}

namespace {

// (rows, d) of the [rows, d] view a reduction works on, after checking `reduced` has the
// reduced shape of `full`.
void reduction_geometry(const TensorView& full, const char* full_name, const TensorView& reduced,
                        const char* reduced_name, ReduceDim dim, int64_t& rows, int64_t& d) {
  if (dim == ReduceDim::All) {
    require_count(reduced, 1, reduced_name, "a scalar");
    rows = 1;
    d = full.numel;
    return;
  }
  if (full.ndim < 1) throw_range("a tensor with at least one dimension", full_name, full.describe());
  const bool last = dim == ReduceDim::Last;
  if (!is_reduced_shape(reduced, full, last))
    throw_range("shape " + reduced_shape_string(full, last) + " (" + full_name + " without its " +
                    (last ? "last" : "first") + " dim)",
                reduced_name, reduced.describe());
  if (last) {
    d = full.shape[full.ndim - 1];
    rows = d ? full.numel / d : 0;
    if (!d) {  // [..., 0]: rows is the product of the leading dims
      rows = 1;
      for (int i = 0; i < full.ndim - 1; ++i) rows *= full.shape[i];
    }
  } else {
    rows = full.shape[0];
    d = 1;
    for (int i = 1; i < full.ndim; ++i) d *= full.shape[i];
  }
}

const char* dim_name(ReduceDim dim) {
  return dim == ReduceDim::All ? "all" : dim == ReduceDim::Last ? "last" : "first";
}

}  // namespace

void reduce_sum(const TensorView& out, const TensorView& x, ReduceDim dim, bool mean,
                bool accumulate) {
  require_dtype(x, {DType::F32}, "x");
  require_f32_like(out, "options.out", x, "x");
  int64_t rows = 0, d = 0;
  reduction_geometry(x, "x", out, "options.out", dim, rows, d);
  require_no_alias(out, "options.out", x, "x");
  const int64_t count = dim == ReduceDim::First ? rows : d;
  if (mean && count == 0)
    throw_range(std::string("a non-empty ") + dim_name(dim) + " dimension to average over", "x", x.describe());
  const double alpha = mean ? 1.0 / static_cast<double>(count) : 1.0;
  const char* op = mean ? "mean" : "sum";
  dispatch(x.device, op,
           [&] {
             if (dim == ReduceDim::All) cpu::reduce_all(out.ptr<float>(), x.ptr<float>(), x.numel, alpha, accumulate);
             else if (dim == ReduceDim::Last) cpu::reduce_last(out.ptr<float>(), x.ptr<float>(), rows, d, alpha, accumulate);
             else cpu::reduce_first(out.ptr<float>(), x.ptr<float>(), rows, d, alpha, accumulate);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(
                 if (dim == ReduceDim::All) cuda::reduce_all(out.ptr<float>(), x.ptr<float>(), x.numel, alpha, accumulate, s);
                 else if (dim == ReduceDim::Last) cuda::reduce_last(out.ptr<float>(), x.ptr<float>(), rows, d, alpha, accumulate, s);
                 else cuda::reduce_first(out.ptr<float>(), x.ptr<float>(), rows, d, alpha, accumulate, s);)
             (void)s;
           });
}

void reduce_sum_blocks(const TensorView& out, const TensorView& x) {
  require_dtype(x, {DType::F32}, "x");
  if (x.ndim != 3) throw_range("a 3-D tensor [G, R, d]", "x", x.describe());
  const int64_t g = x.shape[0], rows = x.shape[1], d = x.shape[2];
  require_f32_like(out, "out", x, "x");
  if (out.ndim != 2 || out.shape[0] != g || out.shape[1] != d)
    throw_range("shape [" + std::to_string(g) + ", " + std::to_string(d) + "] (x without its middle dim)", "out", out.describe());
  if (x.device == Device::CUDA && g > 65535) throw_range("at most 65535 blocks on cuda", "x", x.describe());
  require_no_alias(out, "out", x, "x");
  dispatch(x.device, "sum",
           [&] {
             for (int64_t i = 0; i < g; ++i)
               cpu::reduce_first(out.ptr<float>() + i * d, x.ptr<float>() + i * rows * d, rows, d, 1.0, false);
           },
           [&](void* s) { ERA_CUDA_ONLY(cuda::reduce_first(out.ptr<float>(), x.ptr<float>(), rows, d, 1.0, false, s, g);) (void)s; });
}

void reduce_sum_backward(const TensorView& dx, const TensorView& dy, ReduceDim dim, bool mean,
                         bool accumulate) {
  require_dtype(dy, {DType::F32}, "dy");
  require_f32_like(dx, "options.out", dy, "dy");
  int64_t rows = 0, d = 0;
  reduction_geometry(dx, "options.out", dy, "dy", dim, rows, d);
  require_no_alias(dx, "options.out", dy, "dy");
  const int64_t count = dim == ReduceDim::First ? rows : d;
  const float alpha = mean ? (count ? static_cast<float>(1.0 / static_cast<double>(count)) : 0.f) : 1.f;
  const int mode = static_cast<int>(dim);
  dispatch(dy.device, mean ? "meanBackward" : "sumBackward",
           [&] { cpu::broadcast(dx.ptr<float>(), dy.ptr<float>(), rows, d, mode, alpha, accumulate); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::broadcast(dx.ptr<float>(), dy.ptr<float>(), rows, d, mode, alpha, accumulate, s);) (void)s; });
}

}  // namespace era::ops
