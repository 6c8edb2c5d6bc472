// Limited-memory BFGS with a strong-Wolfe line search (bracketing, then cubic zoom).
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <string>

#include "optim/monitor.hpp"
#include "optim/vector_ops.hpp"
#include "softreg/error.hpp"
#include "softreg/optim.hpp"

namespace softreg {
namespace {

using detail::dot;
using detail::max_abs;

/// Minimizer of the cubic through (a, fa, da) and (b, fb, db), kept inside the middle 80% of
/// [a, b] so the zoom always shrinks the bracket; bisection when the cubic is degenerate.
double cubic_step(double a, double fa, double da, double b, double fb, double db) {
  const double lo = std::min(a, b);
  const double hi = std::max(a, b);
  const double margin = 0.1 * (hi - lo);
  const double d1 = da + db - 3.0 * (fa - fb) / (a - b);
  const double disc = d1 * d1 - da * db;
  double t = 0.5 * (a + b);
  if (disc >= 0.0 && std::isfinite(disc)) {
    const double d2 = (b > a ? 1.0 : -1.0) * std::sqrt(disc);
    const double denom = db - da + 2.0 * d2;
    if (denom != 0.0) t = b - (b - a) * (db + d2 - d1) / denom;
  }
  if (!std::isfinite(t)) t = 0.5 * (a + b);
  return std::clamp(t, lo + margin, hi - margin);
}

struct Point {
  double alpha = 0.0;
  double f = 0.0;
  double dphi = 0.0;
};

/// Evaluates f at x0 + alpha d into (x_trial, g_trial).
class LineFunction {
 public:
  LineFunction(const Objective& f, std::span<const double> x0, std::span<const double> d,
               std::vector<double>& x_trial, std::vector<double>& g_trial, int threads)
      : f_(f), x0_(x0), d_(d), x_(x_trial), g_(g_trial), vec_(threads) {}

  Point eval(double alpha) {
    vec_.each(x_.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) x_[i] = x0_[i] + alpha * d_[i];
    });
    ++evaluations;
    Point p{alpha, f_(x_, g_), 0.0};
    p.dphi = vec_.dot(g_, d_);
    if (!std::isfinite(p.f) || !std::isfinite(p.dphi)) {
      p.f = std::numeric_limits<double>::infinity();
    }
    return p;
  }
  int evaluations = 0;

 private:
  const Objective& f_;
  std::span<const double> x0_, d_;
  std::vector<double>& x_;
  std::vector<double>& g_;
  detail::ParallelVectors vec_;
};

/// Strong-Wolfe line search. On success x_trial / g_trial hold the accepted point and the
/// return value is its f; on failure returns NaN (x_trial may hold anything).
double wolfe_search(LineFunction& line, double f0, double dphi0, double alpha0,
                    const LbfgsOptions& o, std::vector<double>& x_trial,
                    std::vector<double>& g_trial) {
  const auto armijo = [&](const Point& p) { return p.f <= f0 + o.c1 * p.alpha * dphi0; };
  const auto curvature = [&](const Point& p) { return std::fabs(p.dphi) <= -o.c2 * dphi0; };
  // Remembers the best point with sufficient decrease, in case the evaluations run out.
  double best_f = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> best_x, best_g;
  auto remember = [&](const Point& p) {
    if (armijo(p) && !(p.f >= best_f)) {
      best_f = p.f;
      best_x = x_trial;
      best_g = g_trial;
    }
  };
  auto fallback = [&]() {
    if (std::isnan(best_f)) return best_f;
    x_trial = best_x;
    g_trial = best_g;
    return best_f;
  };
  auto zoom = [&](Point lo, Point hi) -> double {
    while (line.evaluations < o.max_line_search) {
      const double a = cubic_step(lo.alpha, lo.f, lo.dphi, hi.alpha, hi.f, hi.dphi);
      const Point p = line.eval(a);
      if (!armijo(p) || p.f >= lo.f) {
        hi = p;
      } else {
        if (curvature(p)) return p.f;
        remember(p);
        if (p.dphi * (hi.alpha - lo.alpha) >= 0.0) hi = lo;
        lo = p;
      }
      if (std::fabs(hi.alpha - lo.alpha) <= 1e-16 * std::max(1.0, lo.alpha)) break;
    }
    return fallback();
  };

  Point prev{0.0, f0, dphi0};
  double alpha = alpha0;
  for (int i = 0; line.evaluations < o.max_line_search; ++i) {
    const Point p = line.eval(alpha);
    if (!armijo(p) || (i > 0 && p.f >= prev.f)) return zoom(prev, p);
    if (curvature(p)) return p.f;
    remember(p);
    if (p.dphi >= 0.0) return zoom(p, prev);
    prev = p;
    alpha *= 2.0;
  }
  return fallback();
}

/// The last m curvature pairs (s, y, rho = 1 / s.y) and the two-loop recursion over them.
class CurvatureHistory {
 public:
  CurvatureHistory(const LbfgsOptions& o, std::size_t n)
      : o_(o), alpha_(static_cast<std::size_t>(o.memory)), n_(n), vec_(o.threads) {}

  /// d = -H g: the two-loop recursion, H0 being o.h0_apply (scaled by s.y / y.H0 y of the
  /// newest pair), else the diagonal o.h0_diagonal (scaled alike), else s.y / y.y.
  void direction(std::span<const double> g, std::span<double> d) {
    const std::size_t m = s_.size();
    vec_.each(n_, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) d[i] = -g[i];
    });
    for (std::size_t j = m; j-- > 0;) {
      alpha_[j] = rho_[j] * vec_.dot(s_[j], d);
      const double a = alpha_[j];
      const std::vector<double>& y = y_[j];
      vec_.each(n_, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) d[i] -= a * y[i];
      });
    }
    const std::vector<double>& h0 = o_.h0_diagonal;
    if (o_.h0_apply) {
      double gamma = 1.0;
      if (m > 0) {
        hy_ = y_[m - 1];
        o_.h0_apply(hy_);
        gamma = vec_.dot(s_[m - 1], y_[m - 1]) / vec_.dot(y_[m - 1], hy_);
      }
      o_.h0_apply(d);
      for (double& v : d) v *= gamma;
    } else if (!h0.empty()) {
      double yhy = 0.0;
      if (m > 0) {
        for (std::size_t i = 0; i < n_; ++i) yhy += y_[m - 1][i] * h0[i] * y_[m - 1][i];
      }
      const double gamma = m > 0 ? vec_.dot(s_[m - 1], y_[m - 1]) / yhy : 1.0;
      vec_.each(n_, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) d[i] *= gamma * h0[i];
      });
    } else if (m > 0) {
      const double gamma = vec_.dot(s_[m - 1], y_[m - 1]) / vec_.dot(y_[m - 1], y_[m - 1]);
      for (double& v : d) v *= gamma;
    }
    for (std::size_t j = 0; j < m; ++j) {
      const double c = alpha_[j] - rho_[j] * vec_.dot(y_[j], d);
      const std::vector<double>& sj = s_[j];
      vec_.each(n_, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) d[i] += c * sj[i];
      });
    }
  }

  /// d = -H0 g with no pairs (after clear()).
  void steepest(std::span<const double> g, std::span<double> d) const {
    const std::vector<double>& h0 = o_.h0_diagonal;
    for (std::size_t i = 0; i < n_; ++i) d[i] = -g[i] * (h0.empty() || o_.h0_apply ? 1.0 : h0[i]);
    if (o_.h0_apply) o_.h0_apply(d);
  }

  /// Keeps the pair s = x' - x, y = g' - g when its curvature s.y is clearly positive,
  /// dropping the oldest beyond o.memory.
  void add(std::span<const double> x_new, std::span<const double> x, std::span<const double> g_new,
           std::span<const double> g) {
    std::vector<double> s(n_), y(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      s[i] = x_new[i] - x[i];
      y[i] = g_new[i] - g[i];
    }
    const double sy = dot(s, y);
    if (!(sy > 1e-12 * std::sqrt(dot(s, s) * dot(y, y)))) return;
    if (s_.size() == static_cast<std::size_t>(o_.memory)) {
      s_.pop_front();
      y_.pop_front();
      rho_.pop_front();
    }
    s_.push_back(std::move(s));
    y_.push_back(std::move(y));
    rho_.push_back(1.0 / sy);
  }

  void clear() {
    s_.clear();
    y_.clear();
    rho_.clear();
  }
  void save(LbfgsState& st) const {
    st.s.assign(s_.begin(), s_.end());
    st.y.assign(y_.begin(), y_.end());
    st.rho.assign(rho_.begin(), rho_.end());
  }
  void restore(const LbfgsState& st) {
    if (st.s.size() != st.y.size() || st.s.size() != st.rho.size() ||
        st.s.size() > static_cast<std::size_t>(o_.memory) ||
        !std::all_of(st.s.begin(), st.s.end(), [&](const auto& v) { return v.size() == n_; }) ||
        !std::all_of(st.y.begin(), st.y.end(), [&](const auto& v) { return v.size() == n_; })) {
      throw InvalidArgument(
          "softreg::lbfgs: the state to resume does not fit these parameters and options");
    }
    s_.assign(st.s.begin(), st.s.end());
    y_.assign(st.y.begin(), st.y.end());
    rho_.assign(st.rho.begin(), st.rho.end());
  }
  bool empty() const { return s_.empty(); }

 private:
  const LbfgsOptions& o_;
  std::deque<std::vector<double>> s_, y_;
  std::deque<double> rho_;
  std::vector<double> alpha_, hy_;
  std::size_t n_;
  detail::ParallelVectors vec_;
};

void validate_lbfgs_options(const LbfgsOptions& o, std::size_t n) {
  if (o.max_iterations < 0 || o.memory < 1 || o.max_line_search < 2 || !(o.c1 > 0.0) ||
      !(o.c1 < o.c2) || !(o.c2 < 1.0) || !(o.grad_tol >= 0.0) || !(o.rel_loss_tol >= 0.0) ||
      !(o.l1 >= 0.0) || !std::isfinite(o.l1) || o.l1_count > n) {
    throw InvalidArgument(
        "softreg::lbfgs: options out of range (need max_iterations >= 0, memory >= 1, "
        "max_line_search >= 2, 0 < c1 < c2 < 1, tolerances >= 0, l1 finite and >= 0, "
        "l1_count <= the parameters)");
  }
  const std::vector<double>& h0 = o.h0_diagonal;
  if (!h0.empty() && (h0.size() != n || !std::all_of(h0.begin(), h0.end(), [](double v) {
                        return v > 0.0 && std::isfinite(v);
                      }))) {
    throw InvalidArgument(
        "softreg::lbfgs: h0_diagonal must have one finite positive entry per "
        "parameter (" +
        std::to_string(n) + ")");
  }
}

/// The L1 part of OWL-QN: the penalty, the pseudo-gradient and the orthant projections.
class L1Penalty {
 public:
  L1Penalty(double l1, std::size_t count) : l1_(l1), m_(count) {}

  double value(std::span<const double> x) const {
    double s = 0.0;
    for (std::size_t i = 0; i < m_; ++i) s += std::fabs(x[i]);
    return l1_ * s;
  }

  /// The pseudo-gradient of f + penalty from f's gradient g: the one-sided derivative that
  /// descends, or 0 at a kink where neither side does.
  void pseudo_gradient(std::span<const double> x, std::span<const double> g,
                       std::span<double> pg) const {
    std::copy(g.begin(), g.end(), pg.begin());
    for (std::size_t i = 0; i < m_; ++i) {
      if (x[i] > 0.0) {
        pg[i] = g[i] + l1_;
      } else if (x[i] < 0.0) {
        pg[i] = g[i] - l1_;
      } else if (g[i] + l1_ < 0.0) {
        pg[i] = g[i] + l1_;
      } else if (g[i] - l1_ > 0.0) {
        pg[i] = g[i] - l1_;
      } else {
        pg[i] = 0.0;
      }
    }
  }

  /// Zeroes the direction's entries that do not descend along -pg (OWL-QN's sign constraint).
  void constrain(std::span<const double> pg, std::span<double> d) const {
    for (std::size_t i = 0; i < m_; ++i) {
      if (d[i] * pg[i] >= 0.0) d[i] = 0.0;
    }
  }

  /// The orthant the step stays in: x's signs, and -pg's where x is 0.
  void orthant(std::span<const double> x, std::span<const double> pg,
               std::vector<double>& xi) const {
    xi.assign(m_, 0.0);
    for (std::size_t i = 0; i < m_; ++i) {
      const double s = x[i] != 0.0 ? x[i] : -pg[i];
      xi[i] = s > 0.0 ? 1.0 : s < 0.0 ? -1.0 : 0.0;
    }
  }

  /// Sets to 0 the penalized entries of x that left the orthant xi.
  void project(std::span<double> x, const std::vector<double>& xi) const {
    for (std::size_t i = 0; i < m_; ++i) {
      if (x[i] * xi[i] <= 0.0) x[i] = 0.0;
    }
  }

 private:
  double l1_;
  std::size_t m_;
};

/// Applies o.resume to a run of L-BFGS or OWL-QN before its first evaluation: x (with
/// validation, the iterate the stopped run was at), early stopping, the curvature pairs and
/// the counters. Returns the first iteration to run.
int resume_run(const LbfgsOptions& o, std::span<double> x, CurvatureHistory& history,
               detail::IterationMonitor& monitor, OptimResult& result, int& small_steps) {
  result.evaluations = 1;
  if (!o.resume) return 1;
  // f at x again gives the bits the stopped run had; that evaluation is not counted.
  monitor.resume(o.resume->early_stopping, x, "softreg::lbfgs");
  history.restore(*o.resume);
  result.iterations = o.resume->iterations;
  result.evaluations = o.resume->evaluations;
  result.history = o.resume->history;
  small_steps = o.resume->small_steps;
  // A run stopped at the iteration where it would have converged by small steps converges here.
  if (small_steps >= 2) {
    result.converged = true;
    result.message = detail::kSmallDecrease;
    return o.max_iterations + 1;
  }
  return o.resume->iterations + 1;
}

/// Fills o.save (when set) at the end of a run, before early stopping moves x to its best.
void save_run(const LbfgsOptions& o, std::span<const double> x, const CurvatureHistory& history,
              const detail::IterationMonitor& monitor, const OptimResult& result, int small_steps) {
  if (!o.save) return;
  history.save(*o.save);
  o.save->iterations = result.iterations;
  o.save->evaluations = result.evaluations;
  o.save->small_steps = small_steps;
  o.save->history = result.history;
  monitor.save(x, o.save->early_stopping);
}

/// lbfgs() with options.l1 > 0: OWL-QN.
OptimResult owlqn(const Objective& f, std::span<double> x, const LbfgsOptions& o,
                  const ProgressCallback& progress, const ValidationLoss& validation) {
  const std::size_t n = x.size();
  const L1Penalty l1(o.l1, o.l1_count);
  std::vector<double> g(n), pg(n), d(n), x_trial(n), g_trial(n), xi;
  OptimResult result;
  result.message = "reached the iteration limit";
  CurvatureHistory history(o, n);
  detail::IterationMonitor monitor(progress, validation, o.patience);
  int small_steps = 0;
  const int first = resume_run(o, x, history, monitor, result, small_steps);
  double fx = f(x, g);
  if (!std::isfinite(fx) || !std::isfinite(max_abs(g))) {
    throw Error("softreg::lbfgs: the objective or its gradient is not finite at the start point");
  }
  fx += l1.value(x);
  l1.pseudo_gradient(x, g, pg);
  for (int iter = first; iter <= o.max_iterations; ++iter) {
    if (max_abs(pg) <= o.grad_tol) {
      result.converged = true;
      result.message = "gradient max-norm below tolerance";
      break;
    }
    history.direction(pg, d);
    l1.constrain(pg, d);
    double dphi0 = dot(pg, d);
    if (!(dphi0 < 0.0)) {  // forget the curvature pairs; H0 alone, then plain -pg
      history.clear();
      history.steepest(pg, d);
      l1.constrain(pg, d);
      dphi0 = dot(pg, d);
      if (!(dphi0 < 0.0)) {
        for (std::size_t i = 0; i < n; ++i) d[i] = -pg[i];
        dphi0 = dot(pg, d);
      }
    }
    l1.orthant(x, pg, xi);
    double alpha = history.empty() && !o.h0_apply ? 1.0 / std::max(1.0, std::sqrt(dot(d, d))) : 1.0;
    double f_new = std::numeric_limits<double>::quiet_NaN();
    for (int tries = 0; tries < o.max_line_search; ++tries, alpha *= 0.5) {
      for (std::size_t i = 0; i < n; ++i) x_trial[i] = x[i] + alpha * d[i];
      l1.project(x_trial, xi);
      const double f_try = f(x_trial, g_trial) + l1.value(x_trial);
      ++result.evaluations;
      double decrease = 0.0;  // pg . (x_trial - x): the predicted change, <= 0
      for (std::size_t i = 0; i < n; ++i) decrease += pg[i] * (x_trial[i] - x[i]);
      if (std::isfinite(f_try) && f_try <= fx + o.c1 * decrease) {
        f_new = f_try;
        break;
      }
    }
    if (std::isnan(f_new)) {
      if (detail::below_resolution(-dphi0, fx, o.f_resolution)) {
        result.converged = true;
        result.message = detail::kPrecisionLimit;
      } else {
        result.message = "line search could not decrease the objective (at the precision limit)";
      }
      break;
    }
    history.add(x_trial, x, g_trial, g);
    const double f_old = fx;
    std::copy(x_trial.begin(), x_trial.end(), x.begin());
    g.swap(g_trial);
    fx = f_new;
    l1.pseudo_gradient(x, g, pg);
    result.iterations = iter;
    result.history.push_back(fx);

    Progress p;
    p.iteration = iter;
    p.max_iterations = o.max_iterations;
    p.loss = fx;
    p.grad_norm = max_abs(pg);
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
  }
  if (!result.converged && max_abs(pg) <= o.grad_tol) {
    result.converged = true;
    result.message = "gradient max-norm below tolerance";
  }
  save_run(o, x, history, monitor, result, small_steps);
  if (monitor.restore_best(x)) {
    fx = f(x, g) + l1.value(x);
    l1.pseudo_gradient(x, g, pg);
    ++result.evaluations;
  }
  result.loss = fx;
  result.grad_norm = max_abs(pg);
  return result;
}

}  // namespace

OptimResult lbfgs(const Objective& f, std::span<double> x, const LbfgsOptions& o,
                  const ProgressCallback& progress, const ValidationLoss& validation) {
  const std::size_t n = x.size();
  validate_lbfgs_options(o, n);
  if (o.l1 > 0.0) return owlqn(f, x, o, progress, validation);
  std::vector<double> g(n), d(n), x_trial(n), g_trial(n);
  OptimResult result;
  result.message = "reached the iteration limit";
  CurvatureHistory history(o, n);
  detail::IterationMonitor monitor(progress, validation, o.patience);
  int small_steps = 0;
  const int first = resume_run(o, x, history, monitor, result, small_steps);
  double fx = f(x, g);
  if (!std::isfinite(fx) || !std::isfinite(max_abs(g))) {
    throw Error("softreg::lbfgs: the objective or its gradient is not finite at the start point");
  }
  for (int iter = first; iter <= o.max_iterations; ++iter) {
    if (max_abs(g) <= o.grad_tol) {
      result.converged = true;
      result.message = "gradient max-norm below tolerance";
      break;
    }
    history.direction(g, d);
    double dphi0 = dot(g, d);
    if (!(dphi0 < 0.0)) {  // not a descent direction: forget the curvature pairs
      history.clear();
      history.steepest(g, d);
      dphi0 = dot(g, d);
    }
    // First step: scaled so the move is about unit length; later steps: the quasi-Newton 1.
    // A general H0 is taken to be Hessian-shaped, so its first step is tried in full.
    const double alpha0 =
        history.empty() && !o.h0_apply ? 1.0 / std::max(1.0, std::sqrt(dot(d, d))) : 1.0;
    LineFunction line(f, x, d, x_trial, g_trial, o.threads);
    const double f_new = wolfe_search(line, fx, dphi0, alpha0, o, x_trial, g_trial);
    result.evaluations += line.evaluations;
    if (std::isnan(f_new)) {
      if (detail::below_resolution(-dphi0, fx, o.f_resolution)) {
        result.converged = true;
        result.message = detail::kPrecisionLimit;
      } else {
        result.message = "line search could not decrease the objective (at the precision limit)";
      }
      break;
    }
    history.add(x_trial, x, g_trial, g);
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
    // Two iterations in a row: one short step (a poor line-search bracket) is not convergence.
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
  }
  if (!result.converged && max_abs(g) <= o.grad_tol) {
    result.converged = true;
    result.message = "gradient max-norm below tolerance";
  }
  save_run(o, x, history, monitor, result, small_steps);
  if (monitor.restore_best(x)) {
    fx = f(x, g);
    ++result.evaluations;
  }
  result.loss = fx;
  result.grad_norm = max_abs(g);
  return result;
}

}  // namespace softreg
