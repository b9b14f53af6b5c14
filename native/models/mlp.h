// The MLP model object (llm.c style): a fixed op sequence over three flat f32 blocks that the
// caller owns and hands in on every call, so a training step allocates nothing.
//
//   params     [E * P]   member e's parameters at e * P (P = num_parameters(), 16-byte aligned)
//   grads      [E * P]   the same layout; backward adds into it
//   workspace  [workspace_size(capacity)]  activations for batches of up to `capacity` rows
//
// Network (per member): L = hidden.size() + 1 linear layers, sizes s_0 = input, s_1.. = hidden,
// s_L = output. Hidden layer l: h = act(LN?(x · W_l + b_l)); output: y = out_act(x · W_L + b_L).
// W_l is stored [s_l, s_{l+1}] (y = x · W + b, as lib/nn/functional.ts's linear). Parameter
// tensors in member order: layers.l.weight, layers.l.bias, then (LayerNorm) norms.l.weight,
// norms.l.bias; each starts on a 4-element boundary (padding stays zero).
//
// Inputs: x [B, in] (every member reads it), or [G, B, in] with E % G == 0 (members
// g*E/G .. (g+1)*E/G - 1 read group g). Outputs [E, B, out]. Members' GEMMs run batched: one
// launch per layer for all members (a few when 1 < G < E). Only ops are called, so the model runs
// on the CPU and CUDA backends unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/activation.h"
#include "../core/tensor.h"
#include "../ops/gemm.h"

namespace era::models {

struct MlpConfig {
  int64_t input = 0;
  std::vector<int64_t> hidden;
  int64_t output = 0;
  Activation act = Activation::Relu;
  Activation out_act = Activation::None;
  bool layer_norm = false;
  double eps = 1e-6;
  int64_t ensemble = 1;
  ops::Precision precision = ops::Precision::F32;
};

struct MlpParam {
  std::string name;
  std::vector<int64_t> shape;  // per member
  int64_t offset = 0;          // within a member's block
};

// Where the workspace regions start for a given capacity (elements).
struct MlpWorkspace {
  int64_t capacity = 0;
  int64_t x = 0;          // the last input, copied: [G, B, in]
  std::vector<int64_t> z, mean, rstd, h;  // per hidden layer (z, mean, rstd: LayerNorm only)
  int64_t y = 0;          // the output [E, B, out]
  int64_t grad_a = 0, grad_b = 0;  // backward ping-pong buffers [E, B, widest layer]
  int64_t dx_members = 0; // per-member input gradients [E, B, in] (before summing groups)
  int64_t dx = 0;         // the input gradient [G, B, in]
  int64_t ones = 0;       // [capacity] of ones (bias gradients as one GEMM)
  int64_t size = 0;       // total elements
};

struct MlpBuffers {
  TensorView params, grads, workspace;
  int64_t capacity = 0;
};

class Mlp {
 public:
  // Validates the configuration (RangeError naming options.*).
  explicit Mlp(const MlpConfig& config);

  const MlpConfig& config() const { return cfg_; }
  // Per-member block length (parameters plus alignment padding).
  int64_t num_parameters() const { return stride_; }
  // Trainable values per member (no padding).
  int64_t parameter_count() const { return count_; }
  const std::vector<MlpParam>& parameters() const { return params_; }
  // The workspace layout for batches of up to `capacity` rows (the last one asked for is cached,
  // so a step at a fixed capacity computes nothing here).
  const MlpWorkspace& workspace(int64_t capacity) const;

  // Prepares a fresh workspace (fills the ones); forgets the last forward.
  void attach_workspace(const MlpBuffers& buffers);
  // y = net(x) into the workspace; x is copied there too (backward needs no caller tensors).
  void forward(const MlpBuffers& buffers, const TensorView& x);
  // dy like the last forward's output. Adds dL/dparams into grads (param_grads; with accumulate
  // false it writes them instead, which saves the caller a zeroGrad) and writes dL/dx into the
  // workspace's dx region (input_grad; summed over the members of a group).
  void backward(const MlpBuffers& buffers, const TensorView& dy, bool input_grad, bool param_grads,
                bool accumulate = true);

  // The last forward's batch and input groups (0 before any forward).
  int64_t batch() const { return batch_; }
  int64_t groups() const { return groups_; }

 private:
  struct Layer {
    int64_t in = 0, out = 0;
    int64_t w = 0, b = 0;          // parameter offsets within a member
    int64_t ln_w = -1, ln_b = -1;  // LayerNorm parameters (hidden layers with layer_norm)
    bool hidden = false;
  };

  void check_buffers(const MlpBuffers& b) const;

  MlpConfig cfg_;
  std::vector<Layer> layers_;
  std::vector<MlpParam> params_;
  int64_t stride_ = 0, count_ = 0, widest_ = 0;
  mutable MlpWorkspace layout_;
  // The last forward: its shape and the workspace it wrote (backward must see the same one).
  int64_t batch_ = 0, groups_ = 0, forward_capacity_ = 0;
  const void* forward_workspace_ = nullptr;
};

}  // namespace era::models
