// SoftmaxRegression: assembling a model, mapping labels to classes, and fitting with a solver.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "model/preconditioner.hpp"
#include "model/preprocess.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/objective.hpp"

namespace softreg {

const char* solver_name(Solver s) {
  switch (s) {
    case Solver::lbfgs:
      return "lbfgs";
    case Solver::sgd:
      return "sgd";
    case Solver::adam:
      return "adam";
  }
  return "?";
}
const char* scaling_name(Scaling s) {
  switch (s) {
    case Scaling::none:
      return "none";
    case Scaling::standard:
      return "standard";
    case Scaling::minmax:
      return "minmax";
  }
  return "?";
}
const char* dtype_name(DType t) {
  return t == DType::float32 ? "float32" : "float64";
}

namespace {

bool parse_int(const std::string& s, long long& v) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc() && ptr == end && !s.empty();
}

/// The distinct labels in scikit-learn's order: numerically if all are integers, else as
/// strings.
std::vector<std::string> sorted_classes(std::span<const std::string> labels) {
  std::set<std::string> distinct(labels.begin(), labels.end());
  std::vector<std::string> classes(distinct.begin(), distinct.end());
  long long a = 0;
  const bool numeric = std::all_of(classes.begin(), classes.end(),
                                   [&](const std::string& s) { return parse_int(s, a); });
  if (numeric) {
    std::sort(classes.begin(), classes.end(), [](const std::string& x, const std::string& y) {
      long long u = 0, v = 0;
      parse_int(x, u);
      parse_int(y, v);
      return u < v;
    });
  }
  return classes;
}

void fail(const std::string& what) {
  throw InvalidArgument("softreg::SoftmaxRegression::fit: " + what);
}

}  // namespace

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

template <class T>
SoftmaxRegression SoftmaxRegression::fit(const Dataset<T>& data, const TrainOptions& o,
                                         const SoftmaxRegression* warm) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n = data.rows();
  const std::size_t d = data.cols();
  if (n == 0) fail("the training data has no rows");
  if (data.labels.size() != n) fail("training needs one label per row (" + data.source + ")");
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2)) fail("l2 must be finite and >= 0");
  if (!(o.valid_fraction >= 0.0 && o.valid_fraction < 1.0))
    fail("valid_fraction must be in [0, 1)");
  if (o.max_iter < 0 || o.epochs < 0) fail("max_iter and epochs must be >= 0");
  if (o.lbfgs_warmup < -1) fail("lbfgs_warmup must be >= 0, or -1 for automatic");
  if (!o.sample_weight.empty() && o.sample_weight.size() != n) {
    fail("sample_weight has " + std::to_string(o.sample_weight.size()) + " entries for " +
         std::to_string(n) + " rows");
  }

  // Classes and label indices.
  std::vector<std::string> classes =
      warm ? warm->classes() : sorted_classes(std::span<const std::string>(data.labels));
  if (warm && warm->n_features() != d) {
    fail("warm start model has " + std::to_string(warm->n_features()) + " features, the data has " +
         std::to_string(d));
  }
  if (classes.size() < 2) {
    fail(data.source + ": training needs at least 2 classes; the labels hold only \"" +
         classes.front() + "\"");
  }
  std::unordered_map<std::string, std::int64_t> index;
  for (std::size_t c = 0; c < classes.size(); ++c) index.emplace(classes[c], std::int64_t(c));
  std::vector<std::int64_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto it = index.find(data.labels[i]);
    if (it == index.end()) {
      fail("label \"" + data.labels[i] + "\" of row " + std::to_string(i) +
           " is not a class of the warm start model");
    }
    y[i] = it->second;
  }
  const std::size_t k = classes.size();

  // Validation split: a seeded random subset, held out of the objective.
  std::vector<std::size_t> train_rows, valid_rows;
  if (o.valid_fraction > 0.0) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(o.seed ^ 0x5eedf00dULL);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
    const auto n_valid = std::size_t(std::llround(o.valid_fraction * double(n)));
    if (n_valid == 0 || n_valid >= n) {
      fail("valid_fraction " + std::to_string(o.valid_fraction) + " of " + std::to_string(n) +
           " rows leaves no validation or no training rows");
    }
    valid_rows.assign(order.begin(), order.begin() + std::ptrdiff_t(n_valid));
    train_rows.assign(order.begin() + std::ptrdiff_t(n_valid), order.end());
    std::sort(valid_rows.begin(), valid_rows.end());
    std::sort(train_rows.begin(), train_rows.end());
  }

  ObjectiveOptions oo;
  oo.sample_weight = o.sample_weight;
  oo.threads = o.threads;
  if (o.balanced || !o.class_weight.empty()) {
    oo.class_weight.assign(k, 1.0);
    if (o.balanced) {
      std::vector<double> count(k, 0.0);
      for (std::size_t i = 0; i < n; ++i) count[std::size_t(y[i])] += 1.0;
      for (std::size_t c = 0; c < k; ++c) {
        oo.class_weight[c] = count[c] > 0 ? double(n) / (double(k) * count[c]) : 0.0;
      }
    }
    for (const auto& [label, weight] : o.class_weight) {
      const auto it = index.find(label);
      if (it == index.end()) fail("class_weight names \"" + label + "\", which is not a class");
      oo.class_weight[std::size_t(it->second)] = weight;
    }
  }
  // The penalty lives here, on W in the preprocessed space, not in the raw-space objective.
  SoftmaxObjective<T> objective(data.features, y, k, oo);
  oo.class_weight.clear();
  oo.sample_weight.clear();
  SoftmaxObjective<T> validation_objective(data.features, y, k, oo);

  const Preprocessing pre =
      warm ? warm->preprocessing()
           : detail::fit_preprocessing(data.features, o.scale,
                                       std::span<const std::size_t>(train_rows));
  const std::size_t np = d * k + k;
  std::vector<double> theta(np, 0.0), theta_raw(np), grad_raw(np);
  if (warm) {
    std::copy(warm->weights().begin(), warm->weights().end(), theta.begin());
    std::copy(warm->bias().begin(), warm->bias().end(), theta.begin() + std::ptrdiff_t(d * k));
  }
  auto penalized = [&](std::span<const double> th, std::span<double> g, double loss) {
    double sq = 0.0;
    for (std::size_t j = 0; j < d * k; ++j) {
      sq += th[j] * th[j];
      if (!g.empty()) g[j] += o.l2 * th[j];
    }
    return loss + 0.5 * o.l2 * sq;
  };
  auto batch = [&](std::span<const double> th, std::span<double> g,
                   std::span<const std::size_t> rows) {
    detail::fold(pre, d, k, th, theta_raw);
    const double loss = rows.empty() ? objective.evaluate(theta_raw, g)
                                     : objective.evaluate_rows(theta_raw, g, rows);
    if (!g.empty()) detail::unfold_gradient(pre, d, k, g);
    return penalized(th, g, loss);
  };
  ValidationLoss validation;
  double valid_accuracy = -1.0;
  if (!valid_rows.empty()) {
    validation = [&](std::span<const double> th) {
      detail::fold(pre, d, k, th, theta_raw);
      const double loss = validation_objective.evaluate_rows(theta_raw, {}, valid_rows);
      valid_accuracy = validation_objective.last_accuracy();
      return loss;
    };
  }
  std::size_t seen = 0, correct = 0;  // SGD / Adam: accuracy over an epoch's mini-batches
  bool reached_target = false;
  ProgressCallback progress = [&](const Progress& p) {
    if (p.loss <= o.target_loss) reached_target = true;
    Progress q = p;
    q.accuracy = o.solver == Solver::lbfgs || seen == 0 ? objective.last_accuracy()
                                                        : double(correct) / double(seen);
    q.valid_accuracy = valid_accuracy;
    seen = correct = 0;
    const bool go_on = o.progress ? o.progress(q) : true;
    return go_on && !reached_target;
  };

  // Mini-batch objective for SGD / Adam: rows are positions in the training subset.
  const std::size_t n_train = train_rows.empty() ? n : train_rows.size();
  std::vector<std::size_t> mapped;
  BatchObjective minibatch = [&](std::span<const double> th, std::span<double> g,
                                 std::span<const std::size_t> rows) {
    std::span<const std::size_t> use = rows;
    if (!train_rows.empty()) {  // positions in the training subset -> row numbers
      mapped.resize(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) mapped[i] = train_rows[rows[i]];
      use = mapped;
    }
    const double loss = batch(th, g, use);
    seen += use.size();
    correct += std::size_t(std::llround(objective.last_accuracy() * double(use.size())));
    return loss;
  };

  OptimResult result;
  std::string warmup_note;
  if (o.solver == Solver::lbfgs) {
    bool interrupted = false;  // a stop request during the warm-up ends the whole fit
    const int warmup = o.max_iter == 0 ? 0
                       : o.lbfgs_warmup >= 0
                           ? o.lbfgs_warmup
                           : (n_train >= TrainOptions::kAutoWarmupRows && warm == nullptr ? 3 : 0);
    if (warmup > 0) {
      const std::span<const std::size_t> rows(train_rows);
      const std::vector<double> theta0 = theta;
      // At theta = 0 without weights the objective is log K exactly: no pass needed.
      const bool plain_zero =
          !o.balanced && o.class_weight.empty() && o.sample_weight.empty() &&
          std::all_of(theta.begin(), theta.end(), [](double v) { return v == 0.0; });
      const double before = plain_zero ? std::log(double(k)) : batch(theta, {}, rows);
      StochasticOptions so;
      so.epochs = warmup;
      so.lr = 0.02;
      so.schedule = LrSchedule::cosine;
      so.seed = o.seed;
      const ProgressCallback warm_progress = [&](const Progress& p) {
        Progress q = p;
        q.warmup = true;
        q.accuracy = seen == 0 ? -1.0 : double(correct) / double(seen);
        seen = correct = 0;
        interrupted = o.progress && !o.progress(q);
        return !interrupted;
      };
      const OptimResult w = adam(minibatch, n_train, theta, so, warm_progress);
      if (interrupted) {  // back to the start, whose loss is known, and no L-BFGS
        theta = theta0;
        result.loss = before;
        result.grad_norm = std::numeric_limits<double>::quiet_NaN();
        result.message = "stopped by the caller (during the Adam warm-up)";
      } else if (const double after = std::isfinite(w.loss) ? batch(theta, {}, rows) : before;
                 after < before) {
        warmup_note = "; after a " + std::to_string(warmup) + "-epoch Adam warm-up";
      } else {
        theta = theta0;
      }
      seen = correct = 0;
    }
  }
  if (o.solver == Solver::lbfgs && result.message.empty()) {
    LbfgsOptions lo;
    lo.max_iterations = o.max_iter;
    lo.grad_tol = o.tol;
    const std::size_t budget_pairs = (std::size_t{64} << 20) / (16 * np);
    lo.memory = o.lbfgs_memory > 0
                    ? o.lbfgs_memory
                    : int(std::min<std::size_t>(100, std::max<std::size_t>(10, budget_pairs)));
    lo.patience = valid_rows.empty() ? 0 : o.patience;
    // The preconditioners look at the training rows that carry weight, weighted as the
    // objective weighs them: a row of sample weight 0 is not in the objective, so it must not
    // shape the path either, and a row of weight 2 shapes it as two copies would.
    std::vector<std::size_t> weighted_rows;
    if (!o.sample_weight.empty()) {
      const std::size_t count = train_rows.empty() ? n : train_rows.size();
      for (std::size_t r = 0; r < count; ++r) {
        const std::size_t row = train_rows.empty() ? r : train_rows[r];
        if (o.sample_weight[row] > 0.0) weighted_rows.push_back(row);
      }
    }
    const std::span<const std::size_t> shaping_rows =
        o.sample_weight.empty() ? std::span<const std::size_t>(train_rows)
                                : std::span<const std::size_t>(weighted_rows);
    std::unique_ptr<detail::SecondMomentPreconditioner> second_moment;
    if (o.preconditioner == Preconditioner::automatic) {
      second_moment = detail::SecondMomentPreconditioner::build(data.features, pre, shaping_rows,
                                                                o.sample_weight, k, o.l2, o.threads);
    }
    if (second_moment) {
      lo.h0_apply = [&](std::span<double> v) { second_moment->apply(v); };
    } else if (o.preconditioner != Preconditioner::none) {
      lo.h0_diagonal = detail::inverse_hessian_diagonal(data.features, pre, shaping_rows,
                                                        o.sample_weight, k, o.l2);
    }
    const std::span<const std::size_t> rows(train_rows);
    result =
        lbfgs([&](std::span<const double> th, std::span<double> g) { return batch(th, g, rows); },
              theta, lo, progress, validation);
  } else if (o.solver != Solver::lbfgs) {
    StochasticOptions so;
    so.epochs = o.epochs;
    so.batch_size = o.batch_size;
    so.lr = o.lr > 0.0 ? o.lr : (o.solver == Solver::sgd ? 0.1 : 1e-3);
    so.schedule = o.schedule;
    so.momentum = o.momentum;
    so.seed = o.seed;
    so.patience = valid_rows.empty() ? 0 : o.patience;
    result = o.solver == Solver::sgd ? sgd(minibatch, n_train, theta, so, progress, validation)
                                     : adam(minibatch, n_train, theta, so, progress, validation);
    if (!std::isfinite(result.loss))
      throw Error("softreg::SoftmaxRegression::fit: " + result.message);
  }

  TrainingInfo info;
  info.solver = o.solver;
  info.dtype = std::is_same_v<T, float> ? DType::float32 : DType::float64;
  info.l2 = o.l2;
  info.iterations = result.iterations;
  info.evaluations = result.evaluations;
  info.converged = result.converged;
  info.message = (reached_target ? "reached the target loss" : result.message) + warmup_note;
  info.converged = info.converged || reached_target;
  info.final_loss = result.loss;
  info.grad_norm = result.grad_norm;
  info.valid_loss = validation ? validation(theta) : -1.0;
  info.n_train = train_rows.empty() ? n : train_rows.size();
  info.n_valid = valid_rows.size();
  info.loss_history = result.history;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> w(theta.begin(), theta.begin() + std::ptrdiff_t(d * k));
  std::vector<double> b(theta.begin() + std::ptrdiff_t(d * k), theta.end());
  return SoftmaxRegression(std::move(classes), d, std::move(w), std::move(b), pre, std::move(info));
}

template SoftmaxRegression SoftmaxRegression::fit<float>(const Dataset<float>&, const TrainOptions&,
                                                         const SoftmaxRegression*);
template SoftmaxRegression SoftmaxRegression::fit<double>(const Dataset<double>&,
                                                          const TrainOptions&,
                                                          const SoftmaxRegression*);

}  // namespace softreg
