#include "era_vision.h"

#include <cmath>
#include <limits>
#include <vector>

namespace era::cpu {

namespace {

// Per-element quantities of one row, all in double.
struct RowState {
  std::vector<double> p, out, c, rho;
  explicit RowState(int64_t n) : p(n), out(n), c(n), rho(n) {}
};

// Fills p, out (shifted z'), c = dz'/du magnitude and rho = s p / h for one row.
void compute_row(const float* x, int64_t n, double s, double b, RowState& st) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, static_cast<double>(x[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (st.p[i] = std::exp(static_cast<double>(x[i]) - m));
  double zmin = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    double p = st.p[i] /= sum;
    double h = s * p + b;
    double u = -1.0 - std::log(h);
    if (u < 0) u = 0;  // only rounding when tau is near e (u_b near 1/e); NaN passes the test
    double r = std::sqrt(2.0 * u);
    double z = -1.0 - r - 0.75 * u;  // closed-form approximation of W_{-1}(-h) (era-spec §3.2)
    st.out[i] = z;
    st.c[i] = 1.0 / r + 0.75;
    st.rho[i] = s * p / h;
    // The reference takes the min over z' (x.min(dim=-1).detach()); NaN propagates via the sum.
    if (z < zmin) zmin = z;
  }
  for (int64_t i = 0; i < n; ++i) st.out[i] -= zmin;
}

}  // namespace

void era_vision_forward_f32(float* out, const float* x, int64_t rows, int64_t n, double s,
                            double b) {
  RowState st(n);
  for (int64_t r = 0; r < rows; ++r) {
    compute_row(x + r * n, n, s, b, st);
    for (int64_t i = 0; i < n; ++i) out[r * n + i] = static_cast<float>(st.out[i]);
  }
}

void era_vision_backward_f32(float* grad_x, const float* x, const float* grad_out, int64_t rows,
                             int64_t n, double s, double b) {
  RowState st(n);
  for (int64_t r = 0; r < rows; ++r) {
    compute_row(x + r * n, n, s, b, st);
    const float* g = grad_out + r * n;
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += static_cast<double>(g[i]) * st.c[i] * st.rho[i];
    for (int64_t i = 0; i < n; ++i)
      grad_x[r * n + i] =
          static_cast<float>(static_cast<double>(g[i]) * st.c[i] * st.rho[i] - st.p[i] * dot);
  }
}

double era_vision_cross_entropy_f32(float* grad_x, const float* x, const int32_t* labels,
                                    int64_t rows, int64_t n, double s, double b, double eps) {
  RowState st(n);
  std::vector<double> q(n);
  double total = 0;
  const double inv_rows = 1.0 / static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    compute_row(x + r * n, n, s, b, st);
    const int64_t y = labels[r];
    // log-softmax of out, max-shifted.
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::fmax(m, st.out[i]);
    double z = 0;
    for (int64_t i = 0; i < n; ++i) z += (q[i] = std::exp(st.out[i] - m));
    const double lse = std::log(z) + m;
    double sum_out = 0;
    for (int64_t i = 0; i < n; ++i) sum_out += st.out[i];
    total += lse - (1.0 - eps) * st.out[y] - eps / static_cast<double>(n) * sum_out;
    // g_i = dL/dout_i = (q_i - t_i) / rows, then through the activation.
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) {
      double t = eps / static_cast<double>(n) + (i == y ? 1.0 - eps : 0.0);
      q[i] = (q[i] / z - t) * inv_rows;  // q now holds g
      dot += q[i] * st.c[i] * st.rho[i];
    }
    for (int64_t i = 0; i < n; ++i)
      grad_x[r * n + i] = static_cast<float>(q[i] * st.c[i] * st.rho[i] - st.p[i] * dot);
  }
  return total * inv_rows;
}

}  // namespace era::cpu
