// Trust-region Newton with preconditioned conjugate gradients (Steihaug's truncated CG), the
// method of Lin, Weng and Keerthi (2008) behind liblinear's solvers: each outer iteration
// solves H s = -g approximately inside a trust region, using only Hessian-vector products.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "optim/monitor.hpp"
#include "optim/vector_ops.hpp"
#include "softreg/error.hpp"
#include "softreg/optim.hpp"

namespace softreg {
namespace {

using detail::dot;
using detail::max_abs;
using detail::weighted_dot;

void validate_newton_options(const NewtonOptions& o, std::size_t n) {
  if (o.max_iterations < 0 || o.max_cg < 1 || !(o.grad_tol >= 0.0) || !(o.rel_loss_tol >= 0.0) ||
      !(o.cg_forcing > 0.0 && o.cg_forcing < 1.0)) {
    throw InvalidArgument(
        "softreg::newton_cg: options out of range (need max_iterations >= 0, max_cg >= 1, "
        "tolerances >= 0, 0 < cg_forcing < 1)");
  }
  const std::vector<double>& m = o.preconditioner;
  if (!m.empty() && (m.size() != n || !std::all_of(m.begin(), m.end(), [](double v) {
                       return v > 0.0 && std::isfinite(v);
                     }))) {
    throw InvalidArgument(
        "softreg::newton_cg: preconditioner must have one finite positive entry per parameter (" +
        std::to_string(n) + ")");
  }
}

/// The step's results: s inside the region, r = -g - H s, and whether it reached the boundary.
struct CgStep {
  int products = 0;
  bool boundary = false;
};

/// Steihaug's truncated preconditioned CG for H s = -g within ||s||_P <= delta, where the
/// region's norm is ||s||_P^2 = s . (s / pinv) and pinv is the diagonal of the inverse
/// preconditioner (all 1 when empty). Stops at ||r||_{pinv} <= forcing ||g||_{pinv}, on the
/// boundary, on non-positive curvature, or after max_cg products.
class TruncatedCg {
 public:
  TruncatedCg(const HessianProduct& hv, const NewtonOptions& o, std::size_t n)
      : hv_(hv), o_(o), pinv_(o.preconditioner), z_(n), d_(n), hd_(n), p_(n) {
    if (pinv_.empty()) pinv_.assign(n, 1.0);
    for (std::size_t i = 0; i < n; ++i) p_[i] = 1.0 / pinv_[i];
  }

  double norm(std::span<const double> v) const { return std::sqrt(weighted_dot(v, p_, v)); }
  double dual_norm(std::span<const double> v) const { return std::sqrt(weighted_dot(v, pinv_, v)); }

  CgStep solve(std::span<const double> g, double delta, std::vector<double>& s,
               std::vector<double>& r) {
    const std::size_t n = g.size();
    CgStep out;
    std::fill(s.begin(), s.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = -g[i];
      z_[i] = pinv_[i] * r[i];
    }
    d_ = z_;
    double rz = dot(r, z_);
    // ||s||_P^2, s.P d and ||d||_P^2 by the recurrences of preconditioned CG (d = z + beta d,
    // P z = r), so a step reads each vector once.
    double ss = 0.0, sd = 0.0, dd = rz;
    const double tol = o_.cg_forcing * std::sqrt(rz);
    while (out.products < o_.max_cg) {
      if (std::sqrt(std::max(rz, 0.0)) <= tol) break;
      hv_(d_, hd_);
      ++out.products;
      const double dhd = dot(d_, hd_);
      const double alpha = dhd > 0.0 ? rz / dhd : std::numeric_limits<double>::infinity();
      if (!(dhd > 0.0) || ss + 2.0 * alpha * sd + alpha * alpha * dd > delta * delta) {
        // The full step leaves the region (or the curvature is not positive): go to the
        // boundary along d, tau >= 0 with ||s + tau d||_P = delta.
        const double rad = std::max(0.0, delta * delta - ss);
        const double tau = (-sd + std::sqrt(sd * sd + dd * rad)) / dd;
        for (std::size_t i = 0; i < n; ++i) {
          s[i] += tau * d_[i];
          r[i] -= tau * hd_[i];
        }
        out.boundary = true;
        break;
      }
      double part[4] = {};
      for (std::size_t i = 0; i < n; ++i) {
        s[i] += alpha * d_[i];
        r[i] -= alpha * hd_[i];
        z_[i] = pinv_[i] * r[i];
        part[i % 4] += r[i] * z_[i];
      }
      const double rz_new = (part[0] + part[1]) + (part[2] + part[3]);
      const double beta = rz_new / rz;
      ss += alpha * (2.0 * sd + alpha * dd);
      sd = beta * (sd + alpha * dd);
      dd = rz_new + beta * beta * dd;
      rz = rz_new;
      for (std::size_t i = 0; i < n; ++i) d_[i] = z_[i] + beta * d_[i];
    }
    return out;
  }

 private:
  const HessianProduct& hv_;
  const NewtonOptions& o_;
  std::vector<double> pinv_, z_, d_, hd_, p_;
};

/// The new trust-region radius after a step of size snorm that achieved `actual` of the
/// `predicted` decrease (the rules and constants of Lin, Weng and Keerthi's TRON).
double update_radius(double delta, double snorm, double actual, double predicted, double gs,
                     double f, double f_new) {
  constexpr double eta0 = 1e-4, eta1 = 0.25, eta2 = 0.75;
  constexpr double sigma1 = 0.25, sigma2 = 0.5, sigma3 = 4.0;
  const double curved = f_new - f - gs;  // > 0 when a quadratic along s fits the two values
  const double alpha = curved <= 0.0 ? sigma3 : std::max(sigma1, -0.5 * (gs / curved));
  if (actual < eta0 * predicted) return std::min(std::max(alpha, sigma1) * snorm, sigma2 * delta);
  if (actual < eta1 * predicted) {
    return std::max(sigma1 * delta, std::min(alpha * snorm, sigma2 * delta));
  }
  if (actual < eta2 * predicted) {
    return std::max(sigma1 * delta, std::min(alpha * snorm, sigma3 * delta));
  }
  return std::max(delta, std::min(alpha * snorm, sigma3 * delta));
}

}  // namespace

OptimResult newton_cg(const Objective& f, const HessianProduct& hv, std::span<double> x,
                      const NewtonOptions& o, const ProgressCallback& progress,
                      const ValidationLoss& validation) {
  const std::size_t n = x.size();
  validate_newton_options(o, n);
  std::vector<double> g(n), s(n), r(n), x_trial(n), g_trial(n);
  OptimResult result;
  detail::IterationMonitor monitor(progress, validation, o.patience);
  if (o.resume) monitor.resume(o.resume->early_stopping, x, "softreg::newton_cg");
  double fx = f(x, g);
  result.evaluations = 1;
  if (!std::isfinite(fx) || !std::isfinite(max_abs(g))) {
    throw Error(
        "softreg::newton_cg: the objective or its gradient is not finite at the start point");
  }
  TruncatedCg cg(hv, o, n);
  double delta = cg.dual_norm(g);
  result.message = "reached the iteration limit";
  int small_steps = 0, rejected = 0;
  int first = 1;
  if (o.resume) {  // f at x again gave the stopped run's bits; not counted
    const NewtonState& st = *o.resume;
    first = st.iterations + 1;
    result.iterations = st.iterations;
    result.evaluations = st.evaluations;
    result.hessian_products = st.hessian_products;
    result.history = st.history;
    small_steps = st.small_steps;
    delta = st.radius;
    if (small_steps >= 2) {
      result.converged = true;
      result.message = detail::kSmallDecrease;
      first = o.max_iterations + 1;
    }
  }
  for (int iter = first; iter <= o.max_iterations;) {
    if (max_abs(g) <= o.grad_tol) {
      result.converged = true;
      result.message = "gradient max-norm below tolerance";
      break;
    }
    const CgStep step = cg.solve(g, delta, s, r);
    result.hessian_products += step.products;
    for (std::size_t i = 0; i < n; ++i) x_trial[i] = x[i] + s[i];
    const double gs = dot(g, s);
    const double predicted = -0.5 * (gs - dot(s, r));  // -(g.s + s.Hs / 2), as r = -g - H s
    double f_new = f(x_trial, g_trial);
    ++result.evaluations;
    if (!std::isfinite(f_new) || !std::isfinite(max_abs(g_trial))) {
      f_new = std::numeric_limits<double>::infinity();
    }
    const double actual = fx - f_new;
    const double snorm = cg.norm(s);
    if (iter == 1 && rejected == 0) delta = std::min(delta, snorm);
    delta = std::isfinite(f_new) ? update_radius(delta, snorm, actual, predicted, gs, fx, f_new)
                                 : 0.25 * std::min(delta, snorm);
    if (!(actual > 1e-4 * predicted) || !(predicted > 0.0)) {
      // Rejected: the products must again be taken at x, where the objective last looked
      // elsewhere.
      fx = f(x, g);
      ++result.evaluations;
      if (predicted > 0.0 && detail::below_resolution(predicted, fx, o.f_resolution)) {
        result.converged = true;
        result.message = detail::kPrecisionLimit;
        break;
      }
      if (++rejected >= 20 || !(delta > 0.0)) {
        result.message = "trust region collapsed (at the precision limit)";
        break;
      }
      continue;
    }
    rejected = 0;
    const double f_old = fx;
    std::copy(x_trial.begin(), x_trial.end(), x.begin());
    g.swap(g_trial);
    fx = f_new;
    result.iterations = iter;
    result.history.push_back(fx);
    Progress p;
    p.iteration = iter;
    p.max_iterations = o.max_iterations;
    p.loss = fx;
    p.grad_norm = max_abs(g);
    // Counted before the callback, so that a run stopped here resumes with the count.
    small_steps = detail::small_decrease(f_old, fx, o.rel_loss_tol) ? small_steps + 1 : 0;
    const std::string stop = monitor.step(p, x);
    if (!stop.empty()) {
      result.message = stop;
      break;
    }
    if (small_steps >= 2) {
      result.converged = true;
      result.message = detail::kSmallDecrease;
      break;
    }
    ++iter;
  }
  if (!result.converged && max_abs(g) <= o.grad_tol) {
    result.converged = true;
    result.message = "gradient max-norm below tolerance";
  }
  if (o.save) {  // before early stopping moves x to its best
    o.save->iterations = result.iterations;
    o.save->evaluations = result.evaluations;
    o.save->hessian_products = result.hessian_products;
    o.save->small_steps = small_steps;
    o.save->radius = delta;
    o.save->history = result.history;
    monitor.save(x, o.save->early_stopping);
  }
  if (monitor.restore_best(x)) {
    fx = f(x, g);
    ++result.evaluations;
  }
  result.loss = fx;
  result.grad_norm = max_abs(g);
  return result;
}

}  // namespace softreg
