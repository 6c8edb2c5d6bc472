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
                                     Preprocessing preprocessing, TrainingInfo info,
                                     std::vector<std::string> feature_names, double temperature)
    : classes_(std::move(classes)),
      d_(n_features),
      w_(std::move(weights)),
      b_(std::move(bias)),
      pre_(std::move(preprocessing)),
      info_(std::move(info)),
      feature_names_(std::move(feature_names)),
      temperature_(temperature) {
  const std::string who = "softreg::SoftmaxRegression: ";
  if (!(temperature_ > 0.0) || !std::isfinite(temperature_)) {
    throw InvalidArgument(who + "temperature must be finite and > 0; got " +
                          std::to_string(temperature_));
  }
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
  if (!feature_names_.empty()) {
    if (feature_names_.size() != d_) {
      throw InvalidArgument(who + std::to_string(feature_names_.size()) +
                            " feature names for d = " + std::to_string(d_) +
                            " features; expected d names or none");
    }
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t j = 0; j < d_; ++j) {
      if (feature_names_[j].empty()) {
        throw InvalidArgument(who + "feature name " + std::to_string(j) + " is empty");
      }
      const auto [it, fresh] = seen.emplace(feature_names_[j], j);
      if (!fresh) {
        throw InvalidArgument(who + "feature name " + std::to_string(j) + " \"" +
                              feature_names_[j] + "\" repeats feature name " +
                              std::to_string(it->second));
      }
    }
  }
}

namespace {

/// Names for messages: "a", "b", "c" and 4 more.
std::string name_list(const std::vector<std::string>& names, std::size_t shown = 5) {
  std::string out;
  for (std::size_t j = 0; j < names.size() && j < shown; ++j) {
    out += (j ? ", \"" : "\"") + names[j] + "\"";
  }
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

template <class T>
void permute_columns(FeatureMatrix<T>& x, const std::vector<std::size_t>& model_col) {
  if (auto* dense = std::get_if<DenseMatrix<T>>(&x)) {
    DenseMatrix<T> out(dense->rows, dense->cols);
    for (std::size_t i = 0; i < dense->rows; ++i) {
      const auto src = dense->row(i);
      auto dst = out.row(i);
      for (std::size_t j = 0; j < src.size(); ++j) dst[model_col[j]] = src[j];
    }
    *dense = std::move(out);
    return;
  }
  auto& csr = std::get<CsrMatrix<T>>(x);
  std::vector<std::pair<std::int32_t, T>> row;
  for (std::size_t i = 0; i < csr.rows; ++i) {
    const auto lo = std::size_t(csr.indptr[i]), hi = std::size_t(csr.indptr[i + 1]);
    row.clear();
    for (std::size_t e = lo; e < hi; ++e) {
      row.emplace_back(std::int32_t(model_col[std::size_t(csr.indices[e])]), csr.values[e]);
    }
    std::sort(row.begin(), row.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t e = lo; e < hi; ++e) {
      csr.indices[e] = row[e - lo].first;
      csr.values[e] = row[e - lo].second;
    }
  }
}

}  // namespace

template <class T>
std::vector<std::string> align_features(Dataset<T>& data, const SoftmaxRegression& model) {
  const std::vector<std::string>& want = model.feature_names();
  const std::vector<std::string>& have = data.feature_names;
  if (want.empty() && have.empty()) return {};
  if (want.empty()) {
    return {data.source +
            " names its columns but the model was trained without feature names; "
            "columns are taken by position"};
  }
  if (have.empty()) {
    return {source_name(data.source) +
            " names no columns; they are taken by position as the model's " +
            std::to_string(want.size()) + " features " + name_list(want)};
  }
  if (have == want) return {};
  // Names from a CSV come from its header, line 1.
  const std::string where =
      source_name(data.source) + (data.format == DataFormat::csv ? ":1" : std::string());
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t j = 0; j < want.size(); ++j) index.emplace(want[j], j);
  std::vector<std::size_t> model_col(have.size());
  std::vector<bool> present(want.size(), false);
  std::vector<std::string> unknown;
  for (std::size_t j = 0; j < have.size(); ++j) {
    const auto it = index.find(have[j]);
    if (it == index.end()) {
      unknown.push_back(have[j]);
      continue;
    }
    model_col[j] = it->second;
    present[it->second] = true;
  }
  if (!unknown.empty()) {
    throw InvalidArgument(where + ": column" + (unknown.size() > 1 ? "s " : " ") +
                          name_list(unknown) + (unknown.size() > 1 ? " are" : " is") +
                          " not among the model's features (" + name_list(want) + ")");
  }
  std::vector<std::string> missing;
  for (std::size_t j = 0; j < want.size(); ++j) {
    if (!present[j]) missing.push_back(want[j]);
  }
  if (!missing.empty()) {
    throw InvalidArgument(where + ": the model's feature" + (missing.size() > 1 ? "s " : " ") +
                          name_list(missing) + (missing.size() > 1 ? " are" : " is") +
                          " missing from the columns");
  }
  permute_columns(data.features, model_col);
  data.feature_names = want;
  return {};
}

template std::vector<std::string> align_features<float>(Dataset<float>&, const SoftmaxRegression&);
template std::vector<std::string> align_features<double>(Dataset<double>&,
                                                         const SoftmaxRegression&);

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

SoftmaxRegression SoftmaxRegression::with_temperature(double t) const {
  if (!(t > 0.0) || !std::isfinite(t)) {
    throw InvalidArgument(
        "softreg::SoftmaxRegression::with_temperature: temperature must be "
        "finite and > 0; got " +
        std::to_string(t));
  }
  SoftmaxRegression out(*this);
  out.temperature_ = t;
  return out;
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
