// SoftmaxRegression: assembling a model from parts, class lookup, folded weights (fitting is in
// fit.cpp).
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "model/preprocess.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"

namespace softreg {

SoftmaxRegression::SoftmaxRegression(std::vector<std::string> classes, std::size_t n_features,
                                     std::vector<double> weights, std::vector<double> bias,
                                     Preprocessing preprocessing, TrainingInfo info)
    : classes_(std::move(classes)),
      d_(n_features),
      w_(std::move(weights)),
      b_(std::move(bias)),
      pre_(std::move(preprocessing)),
      info_(std::move(info)) {
  const std::string who = "softreg::SoftmaxRegression: ";
  const std::size_t k = classes_.size();
  if (k == 0) throw InvalidArgument(who + "a model needs at least one class");
  if (std::set<std::string>(classes_.begin(), classes_.end()).size() != k) {
    throw InvalidArgument(who + "class labels repeat");
  }
  if (w_.size() != d_ * k || b_.size() != k) {
    throw InvalidArgument(who + "weights have " + std::to_string(w_.size()) + " entries and bias " +
                          std::to_string(b_.size()) + "; expected d K = " + std::to_string(d_ * k) +
                          " and K = " + std::to_string(k));
  }
  const bool scaled = pre_.kind != Scaling::none;
  if ((scaled && (pre_.offset.size() != d_ || pre_.scale.size() != d_)) ||
      (!scaled && (!pre_.offset.empty() || !pre_.scale.empty()))) {
    throw InvalidArgument(who + "preprocessing must have d offsets and scales (none without)");
  }
  auto finite = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  if (!finite(w_) || !finite(b_) || !finite(pre_.offset) || !finite(pre_.scale)) {
    throw InvalidArgument(who + "weights and preprocessing must be finite");
  }
}

std::vector<std::int64_t> class_indices(std::span<const std::string> classes,
                                        std::span<const std::string> labels) {
  std::unordered_map<std::string_view, std::int64_t> index;
  for (std::size_t c = 0; c < classes.size(); ++c) index.emplace(classes[c], std::int64_t(c));
  std::vector<std::int64_t> out(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto it = index.find(labels[i]);
    out[i] = it == index.end() ? -1 : it->second;
  }
  return out;
}

std::vector<std::int64_t> SoftmaxRegression::class_indices(
    std::span<const std::string> labels) const {
  return softreg::class_indices(classes_, labels);
}

std::int64_t SoftmaxRegression::class_index(const std::string& label) const {
  const auto it = std::find(classes_.begin(), classes_.end(), label);
  return it == classes_.end() ? -1 : std::int64_t(it - classes_.begin());
}

void SoftmaxRegression::folded_weights(std::vector<double>& w_raw,
                                       std::vector<double>& b_raw) const {
  const std::size_t k = classes_.size();
  std::vector<double> theta(w_);
  theta.insert(theta.end(), b_.begin(), b_.end());
  std::vector<double> raw(theta.size());
  detail::fold(pre_, d_, k, theta, raw);
  w_raw.assign(raw.begin(), raw.begin() + std::ptrdiff_t(d_ * k));
  b_raw.assign(raw.begin() + std::ptrdiff_t(d_ * k), raw.end());
}

}  // namespace softreg
