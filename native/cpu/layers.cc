#include "layers.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"
#include "vector_math.h"

namespace era::cpu {

namespace {

// Rows per chunk of a row loop: about kElementwiseGrain elements.
int64_t row_grain(int64_t d) { return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, d)); }

// One loop per activation, so the switch is outside it and the body can vectorise.
template <Activation A>
void forward_loop(float* y, const float* x, int64_t n) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    if constexpr (A == Activation::Elu) {
      elu_span(y + begin, x + begin, nullptr, end - begin);  // the widest vector build the CPU has
    } else {
      for (int64_t i = begin; i < end; ++i) y[i] = activate(x[i], A);
    }
  });
}

template <Activation A>
void backward_loop(float* dx, const float* dy, const float* y, int64_t n) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dx[i] = activation_grad(dy[i], y[i], A);
  });
}

}  // namespace

void activation_forward(float* y, const float* x, int64_t n, Activation act) {
  switch (act) {
    case Activation::Relu: return forward_loop<Activation::Relu>(y, x, n);
    case Activation::Elu: return forward_loop<Activation::Elu>(y, x, n);
    case Activation::Tanh: return forward_loop<Activation::Tanh>(y, x, n);
    default: return forward_loop<Activation::None>(y, x, n);
  }
}

void activation_backward(float* dx, const float* dy, const float* y, int64_t n, Activation act) {
  switch (act) {
    case Activation::Relu: return backward_loop<Activation::Relu>(dx, dy, y, n);
    case Activation::Elu: return backward_loop<Activation::Elu>(dx, dy, y, n);
    case Activation::Tanh: return backward_loop<Activation::Tanh>(dx, dy, y, n);
    default: return backward_loop<Activation::None>(dx, dy, y, n);
  }
}

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, int64_t rows, int64_t d, float eps,
                        int64_t members, int64_t w_stride, int64_t b_stride) {
  const int64_t rows_per_member = members ? rows / members : 0;  // members >= 1 (layers.h)
  parallel_chunks(rows, row_grain(d), [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      const int64_t member = r / rows_per_member;
      layer_norm_row(y + r * d, mean + r, rstd + r, x + r * d, weight + member * w_stride, bias + member * b_stride, d, eps);
    }
  });
}

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* rstd, int64_t rows,
                         int64_t d, bool accumulate, int64_t members, int64_t w_stride,
                         int64_t dw_stride, int64_t db_stride) {
  const int64_t rows_per_member = members ? rows / members : 0;
  parallel_chunks(rows, row_grain(d), [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      layer_norm_row_backward(dx + r * d, dy + r * d, x + r * d, weight + (r / rows_per_member) * w_stride, mean[r], rstd[r], d);
    }
  });
  // Parameter grads: per member, column sums over its rows, each in double and in row order.
  if (!dweight && !dbias) return;
  for (int64_t e = 0; e < members; ++e) {
    float* dw = dweight ? dweight + e * dw_stride : nullptr;
    float* db = dbias ? dbias + e * db_stride : nullptr;
    const int64_t r0 = e * rows_per_member, r1 = r0 + rows_per_member;
    parallel_chunks(d, row_grain(rows_per_member), [&](int64_t j_begin, int64_t j_end) {
      // A block of columns at a time (vector_math.cc: rows outer, each column summed in row order).
      constexpr int64_t kBlock = 256;
      double sw[kBlock], sb[kBlock];
      for (int64_t c0 = j_begin; c0 < j_end; c0 += kBlock) {
        const int64_t cols = std::min(kBlock, j_end - c0);
        std::fill(sw, sw + cols, 0.0);
        std::fill(sb, sb + cols, 0.0);
        layer_norm_param_sums(sw, sb, dy, x, mean, rstd, r0, r1, d, c0, cols);
        for (int64_t j = 0; j < cols; ++j) {
          if (dw) dw[c0 + j] = static_cast<float>((accumulate ? dw[c0 + j] : 0.0) + sw[j]);
          if (db) db[c0 + j] = static_cast<float>((accumulate ? db[c0 + j] : 0.0) + sb[j]);
        }
      }
    });
  }
}

void copy_columns(float* dst, int64_t dst_stride, int64_t dst_off, const float* src,
                  int64_t src_stride, int64_t src_off, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* d = dst + r * dst_stride + dst_off;
    const float* s = src + r * src_stride + src_off;
    for (int64_t c = 0; c < cols; ++c) d[c] = s[c];
  }
}

void mse_forward(float* loss, const float* pred, const float* target, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(pred[i]) - target[i];
    s += e * e;
  }
  loss[0] = n ? static_cast<float>(s / static_cast<double>(n)) : NAN;
}

void mse_backward(float* grad, const float* pred, const float* target, int64_t n, float scale) {
  const double k = n ? 2.0 * scale / static_cast<double>(n) : 0.0;
  for (int64_t i = 0; i < n; ++i)
    grad[i] = static_cast<float>(k * (static_cast<double>(pred[i]) - target[i]));
}

void reduce_all(float* out, const float* x, int64_t n, double alpha, bool accumulate) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  out[0] = static_cast<float>((accumulate ? out[0] : 0.0) + alpha * s);
}

void reduce_last(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += x[r * d + j];
    out[r] = static_cast<float>((accumulate ? out[r] : 0.0) + alpha * s);
  }
}

void reduce_first(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate) {
  parallel_chunks(d, row_grain(rows), [&](int64_t j_begin, int64_t j_end) {
      for (int64_t j = j_begin; j < j_end; ++j) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) s += x[r * d + j];
        out[j] = static_cast<float>((accumulate ? out[j] : 0.0) + alpha * s);
      }
  });
}

void broadcast(float* dx, const float* dy, int64_t rows, int64_t d, int mode, float alpha,
               bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = dx + r * d;
    for (int64_t c = 0; c < d; ++c) {
      const float v = alpha * dy[mode == 0 ? 0 : mode == 1 ? r : c];
      row[c] = accumulate ? row[c] + v : v;
    }
  }
}

}  // namespace era::cpu
