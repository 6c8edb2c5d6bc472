// Calibration metrics: reliability bins, expected and maximum calibration error, Brier score.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/metrics.hpp"

namespace softreg {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// NumPy's linspace(0, 1, bins + 1): edge b is b * (1 / bins), the last exactly 1.
std::vector<double> bin_edges(std::size_t bins) {
  std::vector<double> edges(bins + 1);
  const double step = 1.0 / double(bins);
  for (std::size_t b = 0; b < bins; ++b) edges[b] = double(b) * step;
  edges[bins] = 1.0;
  return edges;
}

/// The bin of s: the number of interior edges <= s (searchsorted side="right").
std::size_t bin_of(double s, const std::vector<double>& edges) {
  const std::size_t bins = edges.size() - 1;
  auto b = std::size_t(std::min(double(bins - 1), std::floor(s * double(bins))));
  while (b > 0 && s < edges[b]) --b;
  while (b + 1 < bins && s >= edges[b + 1]) ++b;
  return b;
}

}  // namespace

std::vector<ReliabilityBin> reliability_bins(std::span<const double> scores,
                                             std::span<const std::uint8_t> outcomes,
                                             std::size_t bins) {
  const char* who = "softreg::reliability_bins: ";
  if (bins == 0) throw InvalidArgument(std::string(who) + "bins must be >= 1");
  if (scores.size() != outcomes.size()) {
    throw InvalidArgument(std::string(who) + std::to_string(scores.size()) + " scores but " +
                          std::to_string(outcomes.size()) + " outcomes");
  }
  const std::vector<double> edges = bin_edges(bins);
  std::vector<ReliabilityBin> out(bins);
  std::vector<double> score_sum(bins, 0.0), hit_sum(bins, 0.0);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const double s = scores[i];
    if (!(s >= 0.0 && s <= 1.0)) {
      throw InvalidArgument(std::string(who) + "score of row " + std::to_string(i) + " is " +
                            std::to_string(s) + ", expected [0, 1]");
    }
    const std::size_t b = bin_of(s, edges);
    ++out[b].count;
    score_sum[b] += s;
    hit_sum[b] += outcomes[i] != 0 ? 1.0 : 0.0;
  }
  for (std::size_t b = 0; b < bins; ++b) {
    out[b].lower = edges[b];
    out[b].upper = edges[b + 1];
    const double c = double(out[b].count);
    out[b].confidence = out[b].count ? score_sum[b] / c : kNaN;
    out[b].accuracy = out[b].count ? hit_sum[b] / c : kNaN;
  }
  return out;
}

template <class T>
Calibration calibration_metrics(std::span<const T> proba, std::size_t k,
                                std::span<const std::int64_t> y, std::size_t bins) {
  const char* who = "softreg::calibration_metrics: ";
  const std::size_t n = y.size();
  if (k == 0 || proba.size() != n * k) {
    throw InvalidArgument(std::string(who) + "proba has " + std::to_string(proba.size()) +
                          " entries, expected n K = " + std::to_string(n) + " x " +
                          std::to_string(k));
  }
  if (bins == 0) throw InvalidArgument(std::string(who) + "bins must be >= 1");
  std::vector<double> confidence(n);
  std::vector<std::uint8_t> correct(n);
  double brier = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] < 0 || std::size_t(y[i]) >= k) {
      throw InvalidArgument(std::string(who) + "label of row " + std::to_string(i) + " is " +
                            std::to_string(y[i]) + ", expected [0, " + std::to_string(k) + ")");
    }
    const T* p = proba.data() + i * k;
    std::size_t best = 0;
    double top = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
      const double v = double(p[c]);
      if (std::isnan(v)) {
        throw InvalidArgument(std::string(who) + "row " + std::to_string(i) +
                              " has NaN probabilities");
      }
      if (v > top) top = v, best = c;  // the first largest entry, as the argmax kernel
      const double e = v - (c == std::size_t(y[i]) ? 1.0 : 0.0);
      brier += e * e;
    }
    // Probabilities rounded in float can exceed 1 by an ulp.
    confidence[i] = std::clamp(top, 0.0, 1.0);
    correct[i] = best == std::size_t(y[i]) ? 1 : 0;
  }
  Calibration out;
  out.n = n;
  out.bins = reliability_bins(confidence, correct, bins);
  if (n == 0) {
    out.ece = out.mce = out.brier = kNaN;
    return out;
  }
  out.brier = brier / double(n);
  for (const ReliabilityBin& b : out.bins) {
    if (b.count == 0) continue;
    const double gap = std::fabs(b.accuracy - b.confidence);
    out.ece += double(b.count) / double(n) * gap;
    out.mce = std::max(out.mce, gap);
  }
  return out;
}

template Calibration calibration_metrics<float>(std::span<const float>, std::size_t,
                                                std::span<const std::int64_t>, std::size_t);
template Calibration calibration_metrics<double>(std::span<const double>, std::size_t,
                                                 std::span<const std::int64_t>, std::size_t);

}  // namespace softreg
