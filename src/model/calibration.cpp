// fit_temperature: safeguarded Newton on the convex log loss in beta = 1 / T.
#include "softreg/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "softreg/error.hpp"

namespace softreg {
namespace {

/// Checks sizes, labels and that every logit is finite; returns n.
template <class T>
std::size_t check_problem(const char* who, std::span<const T> logits, std::size_t k,
                          std::span<const std::int64_t> y) {
  const std::size_t n = y.size();
  if (k == 0 || logits.size() != n * k) {
    throw InvalidArgument(std::string(who) + ": logits have " + std::to_string(logits.size()) +
                          " entries, expected n K = " + std::to_string(n) + " x " +
                          std::to_string(k));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] < 0 || std::size_t(y[i]) >= k) {
      throw InvalidArgument(std::string(who) + ": label of row " + std::to_string(i) + " is " +
                            std::to_string(y[i]) + ", expected [0, " + std::to_string(k) + ")");
    }
    for (std::size_t c = 0; c < k; ++c) {
      const double v = double(logits[i * k + c]);
      if (!std::isfinite(v)) {
        throw InvalidArgument(std::string(who) + ": logit [" + std::to_string(i) + ", " +
                              std::to_string(c) + "] (row " + std::to_string(i) + ") is " +
                              (std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf")) +
                              "; temperature scaling needs finite logits");
      }
    }
  }
  return n;
}

/// Loss, first and second derivative in beta of the mean NLL of softmax(beta z).
struct Value {
  double loss = 0.0;
  double slope = 0.0;
  double curvature = 0.0;
};

template <class T>
Value evaluate(std::span<const T> logits, std::size_t k, std::span<const std::int64_t> y,
               double beta) {
  const std::size_t n = y.size();
  Value v;
  std::vector<double> w(k);
  for (std::size_t i = 0; i < n; ++i) {
    const T* z = logits.data() + i * k;
    double zmax = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) zmax = std::max(zmax, double(z[c]));
    // With beta > 0 the row's max of beta z is beta zmax: shift by it, exponents <= 0.
    double s = 0.0, m1 = 0.0;
    for (std::size_t c = 0; c < k; ++c) {
      const double d = double(z[c]) - zmax;
      w[c] = std::exp(beta * d);
      s += w[c];
      m1 += w[c] * d;
    }
    const double mean = m1 / s;  // E_p[z] - zmax
    double var = 0.0;            // two passes: Var as E[(z - mean)^2] never goes negative
    for (std::size_t c = 0; c < k; ++c) {
      const double e = double(z[c]) - zmax - mean;
      var += w[c] * e * e;
    }
    const double zy = double(z[std::size_t(y[i])]) - zmax;
    v.loss += std::log(s) - beta * zy;
    v.slope += mean - zy;
    v.curvature += var / s;
  }
  const double inv = 1.0 / double(n);
  v.loss *= inv;
  v.slope *= inv;
  v.curvature *= inv;
  return v;
}

}  // namespace

template <class T>
double temperature_log_loss(std::span<const T> logits, std::size_t k,
                            std::span<const std::int64_t> y, double temperature) {
  const char* who = "softreg::temperature_log_loss";
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    throw InvalidArgument(std::string(who) + ": temperature must be finite and > 0; got " +
                          std::to_string(temperature));
  }
  const std::size_t n = check_problem(who, logits, k, y);
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return evaluate(logits, k, y, 1.0 / temperature).loss;
}

template <class T>
TemperatureFit fit_temperature(std::span<const T> logits, std::size_t k,
                               std::span<const std::int64_t> y, const TemperatureOptions& o) {
  const char* who = "softreg::fit_temperature";
  if (!(o.min_temperature > 0.0) || !(o.min_temperature <= 1.0) || !(o.max_temperature >= 1.0) ||
      !std::isfinite(o.max_temperature)) {
    throw InvalidArgument(std::string(who) +
                          ": the temperature range must satisfy 0 < min_temperature <= 1 <= "
                          "max_temperature < inf; got [" +
                          std::to_string(o.min_temperature) + ", " +
                          std::to_string(o.max_temperature) + "]");
  }
  if (!(o.tol > 0.0) || o.max_iter < 1) {
    throw InvalidArgument(std::string(who) + ": tol must be > 0 and max_iter >= 1");
  }
  const std::size_t n = check_problem(who, logits, k, y);
  if (n == 0) throw InvalidArgument(std::string(who) + ": no rows to calibrate on (n = 0)");

  TemperatureFit fit;
  const Value at_one = evaluate(logits, k, y, 1.0);
  fit.loss_before = fit.loss_after = at_one.loss;
  // L' == 0 and L'' == 0 at beta = 1: K == 1, or every row constant; any T fits, keep 1.
  if (at_one.slope == 0.0) return fit;

  double lo = 1.0 / o.max_temperature, hi = 1.0 / o.min_temperature;
  double beta = 1.0;
  Value v = at_one;
  if (v.slope > 0.0) {
    hi = 1.0;
    const Value at_lo = evaluate(logits, k, y, lo);
    if (at_lo.slope >= 0.0) {  // still rising at the largest T: no interior minimum
      fit.temperature = o.max_temperature;
      fit.loss_after = at_lo.loss;
      fit.at_bound = true;
      return fit;
    }
  } else {
    lo = 1.0;
    const Value at_hi = evaluate(logits, k, y, hi);
    if (at_hi.slope <= 0.0) {  // still falling at the smallest T (separable data)
      fit.temperature = o.min_temperature;
      fit.loss_after = at_hi.loss;
      fit.at_bound = true;
      return fit;
    }
  }
  // The root of the increasing L' lies in (lo, hi); beta is one end of it.
  for (int it = 1; it <= o.max_iter; ++it) {
    fit.iterations = it;
    double next = v.curvature > 0.0 ? beta - v.slope / v.curvature : -1.0;
    if (!(next > lo && next < hi)) next = std::sqrt(lo * hi);  // bisection in log beta
    const double step = std::fabs(next - beta);
    beta = next;
    v = evaluate(logits, k, y, beta);
    if (v.slope > 0.0) {
      hi = beta;
    } else if (v.slope < 0.0) {
      lo = beta;
    } else {
      break;
    }
    if (step <= o.tol * beta || hi - lo <= o.tol * beta) break;
  }
  fit.temperature = 1.0 / beta;
  fit.loss_after = v.loss;
  return fit;
}

template double temperature_log_loss<float>(std::span<const float>, std::size_t,
                                            std::span<const std::int64_t>, double);
template double temperature_log_loss<double>(std::span<const double>, std::size_t,
                                             std::span<const std::int64_t>, double);
template TemperatureFit fit_temperature<float>(std::span<const float>, std::size_t,
                                               std::span<const std::int64_t>,
                                               const TemperatureOptions&);
template TemperatureFit fit_temperature<double>(std::span<const double>, std::size_t,
                                                std::span<const std::int64_t>,
                                                const TemperatureOptions&);

}  // namespace softreg
