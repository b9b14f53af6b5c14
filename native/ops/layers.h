// Dense-network layer ops, forward and backward: activations, LayerNorm, concat/split along the
// last dim, MSE loss and the sum/mean reductions. Each validates every argument and dispatches
// cpu | cuda. All tensors are f32; outputs are caller-allocated and may not alias inputs (except
// where noted).
#pragma once
#include <vector>

#include "../core/activation.h"
#include "../core/tensor.h"

namespace era::ops {

// y = act(x) (y may be x: in place). dx = dL/dx from dy and the forward output y (dx may be dy).
void activation(const TensorView& y, const TensorView& x, Activation act);
void activation_backward(const TensorView& dx, const TensorView& dy, const TensorView& y,
                         Activation act);

// x [..., d]; weight, bias [d]; y like x; mean, rstd: one value per row (numel / d).
// Ensembles: x [E, ..., d] with weight, bias [E, d] normalises member e's rows with row e.
void layer_norm(const TensorView& y, const TensorView& mean, const TensorView& rstd,
                const TensorView& x, const TensorView& weight, const TensorView& bias, double eps);
// Any of dx, dweight, dbias may be null (not wanted). accumulate adds into dweight and dbias,
// which have weight's shape ([d], or [E, d] for an ensemble).
void layer_norm_backward(const TensorView* dx, const TensorView* dweight, const TensorView* dbias,
                         const TensorView& dy, const TensorView& x, const TensorView& weight,
                         const TensorView& mean, const TensorView& rstd, bool accumulate);

// The ensemble form for parameters that live inside a larger block (a model's flat parameter
// tensor): member e's row of d values starts at element offset + e * stride of t. The rows of x
// form `members` equal consecutive blocks; block e uses row e. stride 0 shares one row (inputs
// only: gradient rows must not overlap).
struct ParamRows {
  TensorView t;
  int64_t offset = 0;
  int64_t stride = 0;
};

// activation_backward, and in the same pass the column sums of dx per ensemble member (dy's rows
// in `members` equal blocks) into colsum's rows: the bias gradient of the linear layer before
// the activation, written or added to with accumulate. dx may be dy.
void activation_backward_members(const TensorView& dx, const TensorView& dy, const TensorView& y,
                                 Activation act, const ParamRows& colsum, int64_t members,
                                 bool accumulate);

// With `act`, y = act(LayerNorm(x)) in one pass (the MLP's LayerNorm -> activation).
void layer_norm_members(const TensorView& y, const TensorView& mean, const TensorView& rstd,
                        const TensorView& x, const ParamRows& weight, const ParamRows& bias,
                        int64_t members, double eps, Activation act = Activation::None);
// What the MLP folds into its LayerNorm backward, saving a launch each on CUDA:
//   act_out (with act): the forward's activated output; dy is the gradient of that output.
//   dx_colsum (needs dx): per member, the column sums of dx, the bias gradient of the linear
//     layer feeding the LayerNorm (written, or added to with accumulate).
struct LayerNormBackwardFusion {
  const TensorView* act_out = nullptr;
  Activation act = Activation::None;
  const ParamRows* dx_colsum = nullptr;
};
void layer_norm_members_backward(const TensorView* dx, const ParamRows* dweight,
                                 const ParamRows* dbias, const TensorView& dy, const TensorView& x,
                                 const ParamRows& weight, const TensorView& mean,
                                 const TensorView& rstd, int64_t members, bool accumulate,
                                 const LayerNormBackwardFusion& fused = {});

// Along the last dim: inputs [..., d_i] (same leading dims) -> out [..., sum d_i]; split undoes it.
void concat(const TensorView& out, const std::vector<TensorView>& inputs);
void split(const std::vector<TensorView>& outs, const TensorView& x);

// out (one element) = mean((pred - target)^2); grad = scale * 2 (pred - target) / n.
void mse_loss(const TensorView& out, const TensorView& pred, const TensorView& target);
void mse_loss_backward(const TensorView& grad, const TensorView& pred, const TensorView& target,
                       double scale);

// Sums (or means) over all elements (out: one element), the last dim (out: x.shape[:-1]) or the
// first dim (out: x.shape[1:]; the bias gradient of a linear layer). accumulate adds into out.
enum class ReduceDim : int { All = 0, Last = 1, First = 2 };
void reduce_sum(const TensorView& out, const TensorView& x, ReduceDim dim, bool mean,
                bool accumulate);
// out [G, d] = the sums over the middle dim of x [G, R, d]: G first-dim reductions in one launch
// (the input gradient of ensemble members that share an input).
void reduce_sum_blocks(const TensorView& out, const TensorView& x);
// The backward: dx (the reduced input's shape) = dy broadcast back (divided by the count for a mean).
void reduce_sum_backward(const TensorView& dx, const TensorView& dy, ReduceDim dim, bool mean,
                         bool accumulate);

}  // namespace era::ops
