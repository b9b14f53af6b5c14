// Per-element math of the SAC policy distributions, shared by the CPU references and the CUDA
// kernels (both evaluate it in double; inputs and outputs are f32):
//  - SAC-ERA's truncated normal on (-1, 1) with location clip(tanh mu) (era-spec §1.4), sampled
//    by inverse CDF and differentiated by reparameterisation;
//  - classic SAC's tanh-squashed Gaussian and its log-prob with the tanh Jacobian.
// Every clip is written as comparisons so NaN inputs propagate to the outputs.
#pragma once
#include <math.h>

#include "host_device.h"

namespace era::sac {

constexpr double kEps = 1e-6;                 // era-spec §1.4: the one epsilon of every clip
constexpr double kLo = -1.0 + kEps;           // L: clip of tanh(mu) and the truncation bounds
constexpr double kHi = 1.0 - kEps;            // H
constexpr double kActLo = kLo + kEps;         // the action clip [L + eps, H - eps]
constexpr double kActHi = kHi - kEps;
constexpr double kLogProbClip = 20.0;         // per-dimension log-prob clip of §1.4
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2Pi = 2.5066282746310002;
constexpr double kHalfLog2Pi = 0.91893853320467274;
constexpr double kLn2 = 0.69314718055994531;

// The action bounds as floats, rounded inwards, so an f32 action never leaves [L + eps, H - eps].
constexpr float kActLoF = static_cast<float>(kActLo);
constexpr float kActHiF = static_cast<float>(kActHi);
static_assert(static_cast<double>(kActHiF) <= kActHi && static_cast<double>(kActLoF) >= kActLo,
              "the f32 action bounds must round inwards");

ERA_HD double clip(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Phi(x) = erfc(-x / sqrt 2) / 2: relative accuracy in the lower tail, absolute in the upper.
ERA_HD double normal_cdf(double x) { return 0.5 * erfc(-x / kSqrt2); }

// Phi^-1(p): Acklam's rational approximation (relative error < 1.2e-9) and one Halley step on
// the lower half (q = min(p, 1 - p), x <= 0, where Phi(x) - q keeps its relative accuracy).
// Measured against mpmath: |error| <= 2e-15 |x| + 1e-16 for p in [1e-300, 1 - 2^-53]; that is
// the conditioning of Phi^-1 in double. p = 0 -> -inf, p = 1 -> +inf, outside [0, 1] or NaN -> NaN.
ERA_HD double normal_icdf(double p) {
  if (!(p > 0.0 && p < 1.0)) return p == 0.0 ? -INFINITY : (p == 1.0 ? INFINITY : NAN);
  const double q = p < 0.5 ? p : 1.0 - p;  // exact for p >= 0.5 (Sterbenz)
  double x;
  if (q < 0.02425) {
    const double t = sqrt(-2.0 * log(q));
    x = (((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t -
           2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00) /
        ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t +
          3.754408661907416e+00) * t + 1.0);
  } else {
    const double r = q - 0.5, rr = r * r;
    x = (((((-3.969683028665376e+01 * rr + 2.209460984245205e+02) * rr - 2.759285104469687e+02) * rr +
           1.383577518672690e+02) * rr - 3.066479806614716e+01) * rr + 2.506628277459239e+00) * r /
        (((((-5.447609879822406e+01 * rr + 1.615858368580409e+02) * rr - 1.556989798598866e+02) * rr +
           6.680131188771972e+01) * rr - 1.328068155288572e+01) * rr + 1.0);
  }
  // exp(x^2 / 2) overflows for |x| > 37.6 (q < ~1e-309, subnormal): there the rational form stays.
  if (x * x < 1400.0) {
    const double e = normal_cdf(x) - q;
    const double u = e * kSqrt2Pi * exp(0.5 * x * x);
    x = x - u / (1.0 + 0.5 * x * u);
  }
  return p <= 0.5 ? x : -x;
}

// softplus(v) = log(1 + e^v) without overflow.
ERA_HD double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

// ---------------------------------------------------------------------------------------------
// The truncated normal of SAC-ERA (era-spec §1.4), with eps = 1e-6, L = -1 + eps, H = 1 - eps:
//   m = clip(tanh mu, L, H), s = max(exp(l) T, eps), a = (L - m)/s, b = (H - m)/s,
//   alpha = Phi(a), delta = max(Phi(b) - Phi(a), eps),
//   u' = alpha + delta clip(u, eps, 1 - eps), z = Phi^-1(clip(u', eps, 1 - eps)),
//   x = clip(m + s z, L + eps, H - eps).

struct TruncNormal {
  double m, s, a, b, alpha, delta;
  double dm_dmu;  // 1 - tanh^2 mu where the clip on tanh mu is inactive, else 0
  double ds_dl;   // s where exp(l) T > eps, else 0 (the max passes no gradient)
  bool delta_clamped;
};

ERA_HD TruncNormal trunc_normal(double mu, double log_std, double temperature) {
  TruncNormal t;
  const double th = tanh(mu);
  t.m = clip(th, kLo, kHi);
  t.dm_dmu = (th > kLo && th < kHi) ? (1.0 - th) * (1.0 + th) : 0.0;
  const double e = exp(log_std) * temperature;
  t.s = e < kEps ? kEps : e;
  t.ds_dl = e > kEps ? e : 0.0;
  t.a = (kLo - t.m) / t.s;
  t.b = (kHi - t.m) / t.s;
  t.alpha = normal_cdf(t.a);
  const double d = normal_cdf(t.b) - t.alpha;
  t.delta_clamped = d < kEps;
  t.delta = t.delta_clamped ? kEps : d;
  return t;
}

// The sampled point for the uniform u: u' before its clip, z and x before the action clip.
struct TruncDraw {
  double uc;       // clip(u, eps, 1 - eps)
  double u_prime;  // alpha + delta uc (unclipped)
  double z;        // Phi^-1(clip(u', eps, 1 - eps))
  double x0;       // m + s z (unclipped)
};

ERA_HD TruncDraw trunc_draw(const TruncNormal& t, double u) {
  TruncDraw d;
  d.uc = clip(u, kEps, 1.0 - kEps);
  d.u_prime = t.alpha + t.delta * d.uc;
  d.z = normal_icdf(clip(d.u_prime, kEps, 1.0 - kEps));
  d.x0 = t.m + t.s * d.z;
  return d;
}

// The f32 action: the clip of x, then rounding that cannot leave the clip's range.
ERA_HD float trunc_action(const TruncDraw& d) {
  float f = static_cast<float>(clip(d.x0, kActLo, kActHi));
  if (f < kActLoF) f = kActLoF;
  if (f > kActHiF) f = kActHiF;
  return f;
}

// The reparameterised gradient (era-spec §1.4) of x for one element given g = dL/dx:
//   dx/dm = 1 - [(1 - uc) rho_a + uc rho_b], dx/ds = z - [(1 - uc) a rho_a + uc b rho_b],
//   rho_a = phi(a)/phi(z) = exp((z - a)(z + a)/2) (log space), rho_b likewise;
// with delta clamped only the alpha terms remain (coefficient 1); with u' clipped z is constant
// (dx/dm = 1, dx/ds = z); with x clipped everything is 0. Then the chain through m and s.
ERA_HD void trunc_grad(const TruncNormal& t, double u, double g, double& grad_mu,
                       double& grad_log_std) {
  const TruncDraw d = trunc_draw(t, u);
  double dxdm = 0.0, dxds = 0.0;
  if (d.x0 > kActLo && d.x0 < kActHi) {
    dxdm = 1.0;
    dxds = d.z;
    if (d.u_prime > kEps && d.u_prime < 1.0 - kEps) {
      const double ra = exp(0.5 * (d.z - t.a) * (d.z + t.a));
      const double wa = t.delta_clamped ? 1.0 : 1.0 - d.uc;
      dxdm -= wa * ra;
      dxds -= wa * t.a * ra;
      if (!t.delta_clamped) {
        const double rb = exp(0.5 * (d.z - t.b) * (d.z + t.b));
        dxdm -= d.uc * rb;
        dxds -= d.uc * t.b * rb;
      }
    }
  } else if (!(d.x0 == d.x0)) {
    dxdm = dxds = d.x0;  // NaN in, NaN out
  }
  grad_mu = g * dxdm * t.dm_dmu;
  grad_log_std = g * dxds * t.ds_dl;
}

// One dimension's log-prob of action x (era-spec §1.4; the logged entropy metric only):
// clip(-((x^ - m)/s)^2 / 2 - ln(2 pi)/2 - ln s - ln delta, -20, 20), x^ = clip(x, L + eps, H - eps).
ERA_HD double trunc_log_prob(const TruncNormal& t, double x) {
  const double r = (clip(x, kActLo, kActHi) - t.m) / t.s;
  return clip(-0.5 * r * r - kHalfLog2Pi - log(t.s) - log(t.delta), -kLogProbClip, kLogProbClip);
}

// ---------------------------------------------------------------------------------------------
// Classic SAC's tanh-squashed Gaussian: u = mu + exp(l) eps, action = tanh u,
// log pi = -eps^2/2 - l - ln(2 pi)/2 - log(1 - tanh^2 u), per dimension.

// log(1 - tanh^2 u) = 2 (ln 2 - u - softplus(-2u)): finite for every finite u.
ERA_HD double log1m_tanh2(double u) { return 2.0 * (kLn2 - u - softplus(-2.0 * u)); }

ERA_HD double tanh_gauss_log_prob(double noise, double log_std, double u) {
  return -0.5 * noise * noise - log_std - kHalfLog2Pi - log1m_tanh2(u);
}

// Gradients of one element given dL/d action and dL/d log pi (the row's): with u = mu + sigma eps,
// du/dmu = 1, du/dl = sigma eps; d action/du = 1 - tanh^2 u; d log pi/du = 2 tanh u; d log pi/dl = -1.
ERA_HD void tanh_gauss_grad(double mu, double log_std, double noise, double g_action,
                            double g_log_prob, double& grad_mu, double& grad_log_std) {
  const double sigma = exp(log_std);
  const double u = mu + sigma * noise;
  const double gu = g_action * exp(log1m_tanh2(u)) + g_log_prob * 2.0 * tanh(u);
  grad_mu = gu;
  grad_log_std = gu * sigma * noise - g_log_prob;
}

}  // namespace era::sac
