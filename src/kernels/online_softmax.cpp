// The online softmax normalizer (running max, rescaled compensated sum, merge) and the
// softmax_online kernel built on it.
#include "softreg/online_softmax.hpp"

#include <cmath>
#include <string>

#include "common/check.hpp"
#include "kernels/row.hpp"
#include "kernels/softmax_simd.hpp"
#include "softreg/softmax.hpp"

namespace softreg {

using detail::kInf;
using detail::kNaN;

namespace {

void add_compensated(double& sum, double& comp, double v) {
  detail::CompensatedSum s{sum, comp};
  s.add(v);
  sum = s.sum;
  comp = s.comp;
}

}  // namespace

OnlineSoftmax::OnlineSoftmax(double temperature) : temperature_(temperature), max_(-kInf) {
  if (!(temperature > 0.0) || temperature == kInf) {
    throw InvalidArgument("softreg::OnlineSoftmax: temperature must be finite and > 0, got " +
                          detail::format_number(temperature));
  }
}

void OnlineSoftmax::update(double x) {
  if (std::isnan(x)) {
    nan_ = true;
    return;
  }
  if (x == -kInf) return;  // exp(-inf) adds nothing, whatever the maximum
  if (x > max_) {
    // Rescale what was summed relative to the old maximum; exp(-inf) = 0 covers x = +inf.
    const double f = max_ == -kInf ? 0.0 : std::exp(detail::scaled_shift(max_, x, temperature_));
    sum_ *= f;
    comp_ *= f;
    max_ = x;
    add_compensated(sum_, comp_, 1.0);
  } else if (x == max_) {
    add_compensated(sum_, comp_, 1.0);  // exact, and the only way to count +inf entries
  } else {
    add_compensated(sum_, comp_, std::exp(detail::scaled_shift(x, max_, temperature_)));
  }
}

void OnlineSoftmax::update(std::span<const float> x) {
  for (const float v : x) update(static_cast<double>(v));
}

void OnlineSoftmax::update(std::span<const double> x) {
  for (const double v : x) update(v);
}

void OnlineSoftmax::merge(const OnlineSoftmax& other) {
  if (other.temperature_ != temperature_) {
    throw InvalidArgument("softreg::OnlineSoftmax::merge: temperatures differ (" +
                          detail::format_number(temperature_) + " and " +
                          detail::format_number(other.temperature_) + ")");
  }
  nan_ = nan_ || other.nan_;
  if (other.max_ == -kInf) return;  // it saw nothing with mass
  double other_sum = other.sum_;
  double other_comp = other.comp_;
  if (other.max_ > max_) {
    const double f =
        max_ == -kInf ? 0.0 : std::exp(detail::scaled_shift(max_, other.max_, temperature_));
    sum_ *= f;
    comp_ *= f;
    max_ = other.max_;
  } else if (other.max_ < max_) {
    const double f = std::exp(detail::scaled_shift(other.max_, max_, temperature_));
    other_sum *= f;
    other_comp *= f;
  }
  add_compensated(sum_, comp_, other_sum);
  add_compensated(sum_, comp_, other_comp);
}

double OnlineSoftmax::logsumexp() const {
  if (nan_) return kNaN;
  if (max_ == -kInf || max_ == kInf) return max_;
  return max_ / temperature_ + std::log(sum());
}

double OnlineSoftmax::probability(double x) const {
  if (nan_ || std::isnan(x)) return kNaN;
  if (max_ == -kInf) return 0.0;
  if (max_ == kInf) return x == kInf ? 1.0 / sum() : 0.0;
  return std::exp(detail::scaled_shift(x, max_, temperature_)) / sum();
}

namespace {

template <class T>
void normalize_impl(const OnlineSoftmax& state, std::span<T> out, std::span<const T> x) {
  const char* caller = "softreg::OnlineSoftmax::normalize";
  if (out.size() != x.size()) {
    throw InvalidArgument(std::string(caller) + ": out has " + std::to_string(out.size()) +
                          " elements but x has " + std::to_string(x.size()));
  }
  detail::check_alias(caller, "out", out, "x", x);
  for (std::size_t j = 0; j < x.size(); ++j) out[j] = static_cast<T>(state.probability(x[j]));
}

template <class T>
void softmax_online_impl(std::span<T> out, std::span<const T> x, const Shape& shape, int axis,
                         double temperature) {
  const char* caller = "softreg::softmax_online";
  const AxisLayout layout = axis_layout(shape, axis, caller);
  detail::check_size(caller, "x", x.size(), layout.size(), shape);
  detail::check_size(caller, "out", out.size(), layout.size(), shape);
  detail::check_alias(caller, "out", out, "x", x);
  const double t = detail::checked_temperature<T>(caller, temperature);
  if (t == 0.0) {  // the argmax has no normalizer; the three-pass kernel handles it
    softmax(out, x, shape, axis, 0.0);
    return;
  }
  detail::softmax_family(detail::RowOp::softmax, detail::Passes::online, out.data(), x.data(),
                         layout, t);
}

}  // namespace

void OnlineSoftmax::normalize(std::span<float> out, std::span<const float> x) const {
  normalize_impl(*this, out, x);
}
void OnlineSoftmax::normalize(std::span<double> out, std::span<const double> x) const {
  normalize_impl(*this, out, x);
}

void softmax_online(std::span<float> out, std::span<const float> x, const Shape& shape, int axis,
                    double temperature) {
  softmax_online_impl(out, x, shape, axis, temperature);
}
void softmax_online(std::span<double> out, std::span<const double> x, const Shape& shape, int axis,
                    double temperature) {
  softmax_online_impl(out, x, shape, axis, temperature);
}

}  // namespace softreg
