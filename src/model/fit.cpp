// SoftmaxRegression::fit in named steps: options, labels to class indices, the validation split,
// class weights, the penalized problem, then L-BFGS (after its Adam warm-up) or SGD / Adam, and
// the training record.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_set>

#include "common/check.hpp"
#include "common/random.hpp"
#include "common/thread_pool.hpp"
#include "model/fit_rules.hpp"
#include "model/preconditioner.hpp"
#include "model/preprocess.hpp"
#include "model/saga.hpp"
#include "softreg/distributed.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/names.hpp"
#include "softreg/objective.hpp"

namespace softreg {
namespace {

bool parse_int(const std::string& s, long long& v) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc() && ptr == end && !s.empty();
}

}  // namespace

namespace detail {

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

/// The full-batch solvers' second stopping rule, two iterations whose relative decrease is
/// below this: 1e-10 (the optimizers' default) for the usual tolerances, tol^2 below 1e-5, so
/// a tight tol is met by the gradient rather than cut short by slow progress (the decrease
/// near the optimum is of the order of the gradient squared), but not below 1e-15, a few
/// units of double rounding, where no decrease can be seen any more.
double relative_loss_tolerance(double tol) {
  return std::min(1e-10, std::max(tol * tol, 1e-15));
}

TrainingInfo training_info(const OptimResult& result, const TrainOptions& options, DType dtype,
                           bool reached_target) {
  TrainingInfo info;
  info.solver = options.solver;
  info.dtype = dtype;
  info.l2 = options.l2;
  info.iterations = result.iterations;
  info.evaluations = result.evaluations;
  info.message = reached_target ? "reached the target loss" : result.message;
  info.converged = result.converged || reached_target;
  info.final_loss = result.loss;
  info.grad_norm = result.grad_norm;
  info.loss_history = result.history;
  return info;
}

StochasticOptions stochastic_options(const TrainOptions& options) {
  StochasticOptions o;
  o.epochs = options.epochs;
  o.batch_size = static_cast<std::size_t>(options.batch_size);
  o.lr = options.lr > 0.0 ? options.lr : (options.solver == Solver::sgd ? 0.1 : 1e-3);
  o.schedule = options.schedule;
  o.momentum = options.momentum;
  o.seed = options.seed;
  return o;
}

LbfgsOptions lbfgs_options(const TrainOptions& options, std::size_t n_params, double epsilon,
                           std::size_t l1_count) {
  LbfgsOptions o;
  o.max_iterations = options.max_iter;
  o.grad_tol = options.tol;
  o.rel_loss_tol = relative_loss_tolerance(options.tol);
  const std::size_t budget_pairs = (std::size_t{64} << 20) / (16 * n_params);
  o.memory = options.lbfgs_memory > 0
                 ? options.lbfgs_memory
                 : int(std::min<std::size_t>(100, std::max<std::size_t>(10, budget_pairs)));
  o.threads = options.threads;
  // The passes' resolution: logits and their exponentials rounded in T, the loss summed in
  // double; 64 units of T's rounding of the mean loss cover what one evaluation can show.
  o.f_resolution = 64.0 * epsilon / 2.0;
  o.l1 = options.l1;
  o.l1_count = l1_count;
  return o;
}

}  // namespace detail

namespace {

using detail::relative_loss_tolerance;
using detail::sorted_classes;

void fail(const std::string& what) {
  throw InvalidArgument("softreg::SoftmaxRegression::fit: " + what);
}

void check_sample_weight_count(const TrainOptions& options, std::size_t n, bool shard = false) {
  if (!options.sample_weight.empty() && options.sample_weight.size() != n) {
    fail("sample_weight has " + std::to_string(options.sample_weight.size()) + " entries for " +
         std::to_string(n) + " rows");
  }
  // Each weight is finite (TrainOptions::problem), but their sum can still overflow, and the
  // mean's normalizer would then turn every gradient into 0: a model of zeros "converged".
  double sum = 0.0;
  for (const double s : options.sample_weight) sum += s;
  if (!std::isfinite(sum)) {
    fail("sample_weight sums to infinity (the largest is " +
         detail::format_number(
             *std::max_element(options.sample_weight.begin(), options.sample_weight.end())) +
         "); scale the weights down");
  }
  if (!options.sample_weight.empty() && !(sum > 0.0) && !shard) {  // a shard's may be 0
    fail("sample_weight is all zero; at least one row must carry weight");
  }
}

/// Bytes of a checkpoint's solver state (TrainingInfo::parameters "resume.*"): fixed-size
/// values in the host's byte order (a checkpoint is resumed where it was written), vectors as
/// a u64 count and their f64 values.
class StateWriter {
 public:
  template <class V>
  StateWriter& put(const V& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  StateWriter& put(const std::vector<double>& v) {
    put(std::uint64_t{v.size()});
    out_.append(reinterpret_cast<const char*>(v.data()), 8 * v.size());
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads what StateWriter wrote; a short, long or malformed state is an InvalidArgument.
class StateReader {
 public:
  explicit StateReader(const std::string& bytes) : bytes_(bytes) {}
  template <class V>
  StateReader& get(V& v) {
    raw(&v, sizeof v);
    return *this;
  }
  StateReader& get(std::vector<double>& v) {
    std::uint64_t n = 0;
    get(n);
    if (n > (bytes_.size() - at_) / 8) fail("the checkpoint's resume state is truncated");
    v.resize(n);
    raw(v.data(), 8 * n);
    return *this;
  }
  bool at_end() const { return at_ == bytes_.size(); }
  void finish() const {
    if (!at_end()) fail("the checkpoint's resume state has trailing bytes");
  }

 private:
  void raw(void* p, std::size_t n) {
    if (n > bytes_.size() - at_) fail("the checkpoint's resume state is truncated");
    if (n > 0) std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
  }
  const std::string& bytes_;
  std::size_t at_ = 0;
};

/// Every state ends with early stopping's, for a fit with a validation split only: f64 best
/// loss, its parameters, i32 iterations since, the parameters the fit stopped at.
std::string finish_state(StateWriter& w, const EarlyStoppingState& st) {
  if (!st.x.empty()) w.put(st.best).put(st.best_x).put(st.since_best).put(st.x);
  return w.take();
}

void finish_state(StateReader& r, EarlyStoppingState& st) {
  if (!r.at_end()) r.get(st.best).get(st.best_x).get(st.since_best).get(st.x);
  r.finish();
}

/// "resume.lbfgs": i32 iterations, evaluations, small steps; the history; u64 pairs; per pair
/// rho, s, y.
std::string encode_state(const LbfgsState& st) {
  StateWriter w;
  w.put(st.iterations).put(st.evaluations).put(st.small_steps).put(st.history);
  w.put(std::uint64_t{st.s.size()});
  for (std::size_t j = 0; j < st.s.size(); ++j) w.put(st.rho[j]).put(st.s[j]).put(st.y[j]);
  return finish_state(w, st.early_stopping);
}

void decode_state(const std::string& bytes, LbfgsState& st) {
  StateReader r(bytes);
  r.get(st.iterations).get(st.evaluations).get(st.small_steps).get(st.history);
  std::uint64_t m = 0;
  r.get(m);
  if (m > bytes.size() / 24) fail("the checkpoint's resume state is truncated");
  st.rho.resize(m);
  st.s.resize(m);
  st.y.resize(m);
  for (std::uint64_t j = 0; j < m; ++j) r.get(st.rho[j]).get(st.s[j]).get(st.y[j]);
  finish_state(r, st.early_stopping);
}

/// "resume.newton": i32 iterations, evaluations, Hessian products, small steps; f64 radius;
/// the history.
std::string encode_state(const NewtonState& st) {
  StateWriter w;
  w.put(st.iterations).put(st.evaluations).put(st.hessian_products).put(st.small_steps);
  w.put(st.radius).put(st.history);
  return finish_state(w, st.early_stopping);
}

void decode_state(const std::string& bytes, NewtonState& st) {
  StateReader r(bytes);
  r.get(st.iterations).get(st.evaluations).get(st.hessian_products).get(st.small_steps);
  r.get(st.radius).get(st.history);
  finish_state(r, st.early_stopping);
}

/// "resume.stochastic": i32 epochs, evaluations; u64 steps; the history, m1, m2.
std::string encode_state(const StochasticState& st) {
  StateWriter w;
  w.put(st.epochs).put(st.evaluations).put(std::uint64_t{st.steps});
  w.put(st.history).put(st.m1).put(st.m2);
  return finish_state(w, st.early_stopping);
}

void decode_state(const std::string& bytes, StochasticState& st) {
  StateReader r(bytes);
  std::uint64_t steps = 0;
  r.get(st.epochs).get(st.evaluations).get(steps).get(st.history).get(st.m1).get(st.m2);
  finish_state(r, st.early_stopping);
  st.steps = static_cast<std::size_t>(steps);
}

/// "resume.saga": i32 epochs, evaluated epochs, evaluations, two halving epochs, the widening
/// epoch; f64 step, latest objective; the iterate, the history, the remembered gradients (rows
/// x classes) and their sums (W's, b's).
std::string encode_state(const detail::SagaState& st) {
  StateWriter w;
  w.put(st.epochs).put(st.evaluated).put(st.evaluations).put(st.halve_at).put(st.widen_at);
  w.put(st.step).put(st.previous).put(st.x).put(st.history);
  w.put(st.memory).put(st.sum_w).put(st.sum_b);
  return finish_state(w, st.early_stopping);
}

void decode_state(const std::string& bytes, detail::SagaState& st) {
  StateReader r(bytes);
  r.get(st.epochs).get(st.evaluated).get(st.evaluations).get(st.halve_at).get(st.widen_at);
  r.get(st.step).get(st.previous).get(st.x).get(st.history);
  r.get(st.memory).get(st.sum_w).get(st.sum_b);
  finish_state(r, st.early_stopping);
}

/// The parameter name of a solver's resume state.
const char* resume_key(Solver solver) {
  switch (solver) {
    case Solver::newton_cg:
      return "resume.newton";
    case Solver::saga:
      return "resume.saga";
    case Solver::sgd:
    case Solver::adam:
      return "resume.stochastic";
    case Solver::lbfgs:
    case Solver::automatic:
      break;
  }
  return "resume.lbfgs";
}

/// The classes (the warm start's, else the data's sorted labels) and each row's class index.
struct ClassIndex {
  std::vector<std::string> classes;
  std::vector<std::int64_t> y;
};

/// A data-parallel fit's view of the ranks (TrainOptions::communicator): this rank's place
/// among every rank's rows, and the classes they agreed on. comm is null for one process.
struct Parallel {
  Communicator* comm = nullptr;
  std::size_t first_row = 0;         // this rank's first row among all rows, in rank order
  std::size_t total_rows = 0;        // every rank's rows
  std::vector<std::string> classes;  // the union of every rank's labels, sorted
  void sum(std::span<double> v) const {
    if (comm != nullptr) comm->sum(v);
  }
};

ClassIndex index_labels(std::span<const std::string> labels, const std::string& source,
                        const SoftmaxRegression* warm, const Parallel& par) {
  ClassIndex out;
  out.classes = warm ? warm->classes() : par.comm != nullptr ? par.classes : sorted_classes(labels);
  if (out.classes.size() < 2) {
    fail(source + ": training needs at least 2 classes; the labels hold only \"" +
         out.classes.front() + "\"");
  }
  out.y = class_indices(out.classes, labels);
  const auto unknown = std::find(out.y.begin(), out.y.end(), std::int64_t{-1});
  if (unknown != out.y.end()) {
    const auto i = std::size_t(unknown - out.y.begin());
    fail("label \"" + labels[i] + "\" of row " + std::to_string(i) +
         " is not a class of the warm start model");
  }
  return out;
}

/// Training and validation rows: both empty without a split (every row trains), else a seeded
/// random subset of round(fraction n) rows held out, each list sorted.
struct RowSplit {
  std::vector<std::size_t> train, valid;
};

RowSplit split_rows(std::size_t n, double fraction, std::uint64_t seed) {
  RowSplit split;
  if (fraction <= 0.0) return split;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(seed ^ 0x5eedf00dULL);
  detail::shuffle(std::span<std::size_t>(order), rng);
  const auto n_valid = std::size_t(std::llround(fraction * double(n)));
  if (n_valid == 0 || n_valid >= n) {
    fail("valid_fraction " + std::to_string(fraction) + " of " + std::to_string(n) +
         " rows leaves no validation or no training rows");
  }
  split.valid.assign(order.begin(), order.begin() + std::ptrdiff_t(n_valid));
  split.train.assign(order.begin() + std::ptrdiff_t(n_valid), order.end());
  std::sort(split.valid.begin(), split.valid.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

/// Per-class weights: empty for none; "balanced" gives n / (K n_c), then named labels override.
std::vector<double> class_weights(const TrainOptions& options, const ClassIndex& labels,
                                  const Parallel& par) {
  if (!options.balanced && options.class_weight.empty()) return {};
  const std::size_t k = labels.classes.size();
  std::vector<double> weight(k, 1.0);
  if (options.balanced) {
    std::vector<double> count(k + 1, 0.0);  // per class, then the rows
    for (const std::int64_t c : labels.y) count[std::size_t(c)] += 1.0;
    count[k] = double(labels.y.size());
    par.sum(count);
    const double n = count[k];
    for (std::size_t c = 0; c < k; ++c) {
      weight[c] = count[c] > 0 ? n / (double(k) * count[c]) : 0.0;
    }
  }
  for (const auto& [label, value] : options.class_weight) {
    const auto it = std::find(labels.classes.begin(), labels.classes.end(), label);
    if (it == labels.classes.end())
      fail("class_weight names \"" + label + "\", which is not a class");
    weight[std::size_t(it - labels.classes.begin())] = value;
  }
  return weight;
}

/// The training objective's options: the fit's weights and threads (no penalty: see Fit).
ObjectiveOptions weighted_options(const TrainOptions& options, std::vector<double> class_weight) {
  ObjectiveOptions objective;
  objective.sample_weight = options.sample_weight;
  objective.class_weight = std::move(class_weight);
  objective.threads = options.threads;
  return objective;
}

/// The validation objective's: unweighted, the fit's threads.
ObjectiveOptions unweighted_options(const TrainOptions& options) {
  ObjectiveOptions objective;
  objective.threads = options.threads;
  return objective;
}

template <class T>
std::vector<std::string> fitted_feature_names(const Dataset<T>& data,
                                              const SoftmaxRegression* warm);

/// One fit: the problem and its state while a solver runs. The objective sums over the raw
/// features; the mean and the penalty are formed once, by penalized_mean(), on W in the
/// preprocessed space.
template <class T>
class Fit {
 public:
  Fit(const Dataset<T>& data, const TrainOptions& options, const SoftmaxRegression* warm,
      const Parallel& par);
  void run_lbfgs();
  void run_newton();
  void run_saga();
  void run_stochastic();
  SoftmaxRegression finish();

 private:
  void check_diverged();
  double batch(std::span<const double> th, std::span<double> g, std::span<const std::size_t> rows);
  double full_batch(std::span<const double> th, std::span<double> g);
  double penalized(std::span<const double> th, std::span<double> g, const ObjectiveSums& sums);
  double minibatch(std::span<const double> th, std::span<double> g,
                   std::span<const std::size_t> positions);
  bool on_progress(const Progress& p);
  BatchObjective minibatch_objective();
  int warmup_epochs() const;
  void warm_up(int epochs);
  LbfgsOptions lbfgs_options() const;
  void start_at_class_priors();
  std::span<const std::size_t> shaping_rows();
  void hessian_vector(std::span<const double> v, std::span<double> hv);
  void clear_bias(std::span<double> v) const;
  ObjectiveSums combine(const ObjectiveSums& sums, std::span<double> g);
  std::span<const std::size_t> sampled_rows();

  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  const Dataset<T>& data_;
  const TrainOptions& options_;
  const SoftmaxRegression* warm_;
  const Parallel& par_;
  std::size_t n_, d_;
  ClassIndex labels_;
  std::size_t k_;
  RowSplit split_;
  std::size_t n_train_;  // every rank's training rows
  std::size_t n_local_train_;
  std::vector<double> class_weight_;          // empty: all 1
  SoftmaxObjective<T> objective_;             // weighted, over the training rows
  SoftmaxObjective<T> validation_objective_;  // unweighted, over the validation rows
  Preprocessing pre_;
  std::vector<double> theta_, theta_raw_, v_raw_;
  double last_weight_ = 0.0;    // the mean's normalizer of the latest full pass
  double accuracy_ = 0.0;       // training accuracy of the latest pass, over every rank's rows
  ObjectiveSums last_sums_;     // the latest pass's sums, over every rank's rows
  std::vector<double> packed_;  // a pass's sums and gradient, as the ranks add them
  std::vector<std::size_t> weighted_rows_;
  std::vector<std::size_t> mapped_;
  ValidationLoss validation_;
  double valid_accuracy_ = -1.0;
  std::size_t seen_ = 0, correct_ = 0;  // SGD / Adam: accuracy over an epoch's mini-batches
  bool reached_target_ = false;
  OptimResult result_;
  std::string warmup_note_;
  // TrainingInfo's accuracy and validation histories, one entry per on_progress.
  std::vector<double> accuracy_history_, valid_loss_history_, valid_accuracy_history_;
  // The state of the stopped fit this one continues, and the state at the end, for a
  // checkpoint: the solver's (only its own pair is used).
  std::optional<LbfgsState> resume_;
  LbfgsState saved_;
  std::optional<StochasticState> sgd_resume_;
  StochasticState sgd_saved_;
  std::optional<NewtonState> newton_resume_;
  NewtonState newton_saved_;
  std::optional<detail::SagaState> saga_resume_;
  detail::SagaState saga_saved_;

  template <class State>
  void read_resume(const std::string& bytes, std::optional<State>& state) {
    decode_state(bytes, state.emplace());
  }

 public:
  /// The parameter name and bytes of the state to keep in the model when the fit was stopped
  /// by the caller (not by reaching the target loss), or an empty name.
  std::pair<std::string, std::string> resume_record() const {
    if (result_.message != "stopped by the caller" || reached_target_) return {};
    const std::string key = resume_key(options_.solver);
    switch (options_.solver) {
      case Solver::newton_cg:
        return {key, encode_state(newton_saved_)};
      case Solver::saga:
        return {key, encode_state(saga_saved_)};
      case Solver::sgd:
      case Solver::adam:
        return {key, encode_state(sgd_saved_)};
      case Solver::lbfgs:
      case Solver::automatic:
        break;
    }
    return {key, encode_state(saved_)};
  }
  const std::string& warmup_note() const { return warmup_note_; }
};

template <class T>
Fit<T>::Fit(const Dataset<T>& data, const TrainOptions& options, const SoftmaxRegression* warm,
            const Parallel& par)
    : data_(data),
      options_(options),
      warm_(warm),
      par_(par),
      n_(data.rows()),
      d_(data.cols()),
      labels_(index_labels(std::span<const std::string>(data.labels), data.source, warm, par)),
      k_(labels_.classes.size()),
      split_(split_rows(n_, options.valid_fraction, options.seed)),
      n_train_(par.comm != nullptr    ? par.total_rows
               : split_.train.empty() ? n_
                                      : split_.train.size()),
      n_local_train_(split_.train.empty() ? n_ : split_.train.size()),
      class_weight_(class_weights(options, labels_, par)),
      objective_(data.features, labels_.y, k_, weighted_options(options, class_weight_)),
      validation_objective_(data.features, labels_.y, k_, unweighted_options(options)),
      pre_(warm ? warm->preprocessing()
                : detail::fit_preprocessing(data.features, options.scale,
                                            std::span<const std::size_t>(split_.train), par.comm)) {
  if (options.resume) {
    accuracy_history_ = warm->info().accuracy_history;  // the stopped fit's iterations
    valid_loss_history_ = warm->info().valid_loss_history;
    valid_accuracy_history_ = warm->info().valid_accuracy_history;
    const auto& params = warm->info().parameters;
    const std::string& bytes = params.at(resume_key(options.solver));
    if (options.solver == Solver::lbfgs) {
      read_resume(bytes, resume_);
    } else if (options.solver == Solver::newton_cg) {
      read_resume(bytes, newton_resume_);
    } else if (options.solver == Solver::saga) {
      read_resume(bytes, saga_resume_);
    } else {
      read_resume(bytes, sgd_resume_);
    }
    if (const auto note = params.find("resume.note"); note != params.end()) {
      warmup_note_ = note->second;
    }
  }
  const std::size_t np = d_ * k_ + k_;
  theta_.assign(np, 0.0);
  theta_raw_.resize(np);
  if (warm) {
    std::copy(warm->weights().begin(), warm->weights().end(), theta_.begin());
    if (options.fit_intercept) {
      std::copy(warm->bias().begin(), warm->bias().end(), theta_.begin() + std::ptrdiff_t(d_ * k_));
    }
  } else if (options.fit_intercept) {
    start_at_class_priors();
  }
  if (!split_.valid.empty()) {
    validation_ = [this](std::span<const double> th) {
      detail::fold(pre_, d_, k_, th, theta_raw_);
      const double loss = validation_objective_.evaluate_rows(theta_raw_, {}, split_.valid);
      valid_accuracy_ = validation_objective_.last_accuracy();
      return loss;
    };
  }
}

// W = 0 and b = the log of each class's share of the training weight (centred): the best
// model that ignores the features, so no solver spends its first steps finding the class
// frequencies (on imbalanced data, such as text sections, that is most of the start's loss).
// Left at 0 when a class carries no weight (its optimal bias is -infinity).
template <class T>
void Fit<T>::start_at_class_priors() {
  std::vector<double> mass(k_, 0.0);
  for (std::size_t r = 0; r < n_local_train_; ++r) {
    const std::size_t row = split_.train.empty() ? r : split_.train[r];
    const auto c = std::size_t(labels_.y[row]);
    mass[c] += (options_.sample_weight.empty() ? 1.0 : options_.sample_weight[row]) *
               (class_weight_.empty() ? 1.0 : class_weight_[c]);
  }
  par_.sum(mass);
  if (!std::all_of(mass.begin(), mass.end(), [](double m) { return m > 0.0; })) return;
  double mean = 0.0;
  for (double& m : mass) mean += (m = std::log(m)) / double(k_);
  for (std::size_t c = 0; c < k_; ++c) theta_[d_ * k_ + c] = mass[c] - mean;
}

// The objective over exactly `rows` (a mini-batch).
template <class T>
double Fit<T>::batch(std::span<const double> th, std::span<double> g,
                     std::span<const std::size_t> rows) {
  detail::fold(pre_, d_, k_, th, theta_raw_);
  return penalized(th, g, objective_.sums(theta_raw_, g, rows));
}

// The objective over the training rows: every row when nothing is held out.
template <class T>
double Fit<T>::full_batch(std::span<const double> th, std::span<double> g) {
  detail::fold(pre_, d_, k_, th, theta_raw_);
  return penalized(th, g,
                   split_.train.empty() ? objective_.sums(theta_raw_, g)
                                        : objective_.sums(theta_raw_, g, split_.train));
}

// The raw sums of a pass in the model's parameters: mean, penalty, gradient unfolded.
// A pass's sums over every rank's rows, the gradient sum in g with them, in one collective
// (the identity for one process); keeps the training accuracy they give.
template <class T>
ObjectiveSums Fit<T>::combine(const ObjectiveSums& local, std::span<double> g) {
  ObjectiveSums sums = local;
  if (par_.comm != nullptr) {
    packed_.resize(g.size() + 4);
    std::copy(g.begin(), g.end(), packed_.begin());
    double* tail = packed_.data() + g.size();
    tail[0] = sums.loss;
    tail[1] = sums.weight;
    tail[2] = double(sums.correct);
    tail[3] = double(sums.rows);
    par_.comm->sum(packed_);
    std::copy_n(packed_.begin(), g.size(), g.begin());
    sums.loss = tail[0];
    sums.weight = tail[1];
    sums.correct = std::size_t(tail[2]);
    sums.rows = std::size_t(tail[3]);
  }
  accuracy_ = sums.rows > 0 ? double(sums.correct) / double(sums.rows) : 0.0;
  last_sums_ = sums;
  return sums;
}

template <class T>
double Fit<T>::penalized(std::span<const double> th, std::span<double> g,
                         const ObjectiveSums& local) {
  const ObjectiveSums sums = combine(local, g);
  if (!g.empty()) detail::unfold_gradient(pre_, d_, k_, g);  // linear: the sum maps as the mean
  last_weight_ = sums.weight;
  const double f = penalized_mean(sums, th, k_, g, options_.l2);
  // Without an intercept b never moves: every solver's step is built from this gradient (and
  // L-BFGS's initial matrix and Newton's products, masked the same way), so b stays at 0.
  if (!options_.fit_intercept && !g.empty()) clear_bias(g);
  return f;
}

// Mini-batch objective of SGD / Adam: positions index the training rows.
template <class T>
double Fit<T>::minibatch(std::span<const double> th, std::span<double> g,
                         std::span<const std::size_t> positions) {
  std::span<const std::size_t> rows = positions;
  if (par_.comm != nullptr) {
    // Positions index every rank's rows: this rank evaluates the ones it holds.
    mapped_.clear();
    for (const std::size_t p : positions) {
      if (p >= par_.first_row && p - par_.first_row < n_) mapped_.push_back(p - par_.first_row);
    }
    rows = mapped_;
  } else if (!split_.train.empty()) {
    mapped_.resize(positions.size());
    for (std::size_t i = 0; i < positions.size(); ++i) mapped_[i] = split_.train[positions[i]];
    rows = mapped_;
  }
  const double loss = batch(th, g, rows);
  seen_ += last_sums_.rows;
  correct_ += last_sums_.correct;
  return loss;
}

template <class T>
BatchObjective Fit<T>::minibatch_objective() {
  return [this](std::span<const double> th, std::span<double> g,
                std::span<const std::size_t> positions) { return minibatch(th, g, positions); };
}

template <class T>
bool Fit<T>::on_progress(const Progress& p) {
  if (p.loss <= options_.target_loss) reached_target_ = true;
  Progress q = p;
  const bool full_batch = options_.solver == Solver::lbfgs ||
                          options_.solver == Solver::newton_cg || options_.solver == Solver::saga;
  q.accuracy = full_batch || seen_ == 0 ? accuracy_ : double(correct_) / double(seen_);
  q.valid_accuracy = valid_accuracy_;
  seen_ = correct_ = 0;
  accuracy_history_.push_back(q.accuracy);
  if (validation_) {
    valid_loss_history_.push_back(q.valid_loss);
    valid_accuracy_history_.push_back(q.valid_accuracy);
  }
  bool go_on = options_.progress ? options_.progress(q) : true;
  if (par_.comm != nullptr) {  // any rank's stop request stops every rank, here
    double stop[1] = {go_on ? 0.0 : 1.0};
    par_.comm->max(stop);
    go_on = stop[0] == 0.0;
  }
  return go_on && !reached_target_;
}

template <class T>
int Fit<T>::warmup_epochs() const {
  if (options_.max_iter == 0 || options_.l1 > 0.0) return 0;  // Adam knows no L1 term
  if (options_.lbfgs_warmup >= 0) return options_.lbfgs_warmup;
  // Sparse data: a mini-batch step updates all d K moments for a few rows' worth of entries,
  // so an epoch costs far more than a full pass (on the package-description benchmark, 3
  // epochs took longer than the whole L-BFGS run after them): no warm-up.
  const bool dense = std::holds_alternative<DenseMatrix<T>>(data_.features);
  return dense && n_train_ >= TrainOptions::kAutoWarmupRows && warm_ == nullptr ? 3 : 0;
}

// Epochs of Adam before L-BFGS, kept only if they lower the full objective. A stop request
// during them ends the whole fit at the start point (result_.message says stochastic).
template <class T>
void Fit<T>::warm_up(int epochs) {
  const std::vector<double> theta0 = theta_;
  // At theta = 0 without weights the objective is log K exactly: no pass needed.
  const bool plain_zero =
      !options_.balanced && options_.class_weight.empty() && options_.sample_weight.empty() &&
      std::all_of(theta_.begin(), theta_.end(), [](double v) { return v == 0.0; });
  const double before = plain_zero ? std::log(double(k_)) : full_batch(theta_, {});
  StochasticOptions stochastic;
  stochastic.epochs = epochs;
  stochastic.lr = 0.02;
  stochastic.schedule = LrSchedule::cosine;
  stochastic.seed = options_.seed;
  bool interrupted = false;
  const ProgressCallback warm_progress = [&](const Progress& p) {
    Progress q = p;
    q.warmup = true;
    q.accuracy = seen_ == 0 ? -1.0 : double(correct_) / double(seen_);
    seen_ = correct_ = 0;
    interrupted = options_.progress && !options_.progress(q);
    if (par_.comm != nullptr) {  // every rank stops the warm-up together, or none does
      double stop[1] = {interrupted ? 1.0 : 0.0};
      par_.comm->max(stop);
      interrupted = stop[0] > 0.0;
    }
    return !interrupted;
  };
  const BatchObjective objective = minibatch_objective();
  const OptimResult w = adam(objective, n_train_, theta_, stochastic, warm_progress);
  if (interrupted) {  // back to the start, whose loss is known, and no L-BFGS
    theta_ = theta0;
    result_.loss = before;
    result_.grad_norm = std::numeric_limits<double>::quiet_NaN();
    result_.message = "stopped by the caller (during the Adam warm-up)";
  } else if (const double after = std::isfinite(w.loss) ? full_batch(theta_, {}) : before;
             after < before) {
    warmup_note_ = "; after a " + std::to_string(epochs) + "-epoch Adam warm-up";
  } else {
    theta_ = theta0;
  }
  seen_ = correct_ = 0;
}

template <class T>
LbfgsOptions Fit<T>::lbfgs_options() const {
  LbfgsOptions lbfgs_opt = detail::lbfgs_options(
      options_, theta_.size(), double(std::numeric_limits<T>::epsilon()), d_ * k_);
  lbfgs_opt.patience = split_.valid.empty() ? 0 : options_.patience;
  return lbfgs_opt;
}

template <class T>
void Fit<T>::run_lbfgs() {
  if (!resume_) {
    if (const int epochs = warmup_epochs(); epochs > 0) warm_up(epochs);
    if (!result_.message.empty()) return;  // stopped during the warm-up
  }
  LbfgsOptions lbfgs_opt = lbfgs_options();
  // A stopped fit leaves its state in the model (resume).
  if (resume_) lbfgs_opt.resume = &*resume_;
  lbfgs_opt.save = &saved_;
  const std::span<const std::size_t> rows = shaping_rows();
  std::unique_ptr<detail::SecondMomentPreconditioner> second_moment;
  if (options_.preconditioner == Preconditioner::automatic) {
    second_moment = detail::SecondMomentPreconditioner::build(
        data_.features, pre_, par_.comm != nullptr ? sampled_rows() : rows, options_.sample_weight,
        k_, options_.l2, options_.threads, par_.comm);
  }
  if (second_moment) {
    // The second-moment matrix couples b with W, so its product is masked too.
    lbfgs_opt.h0_apply = [&](std::span<double> v) {
      second_moment->apply(v);
      if (!options_.fit_intercept) clear_bias(v);
    };
  } else if (options_.preconditioner != Preconditioner::none) {
    lbfgs_opt.h0_diagonal = detail::inverse_hessian_diagonal(
        data_.features, pre_, rows, options_.sample_weight, k_, options_.l2, par_.comm);
  }
  result_ =
      lbfgs([&](std::span<const double> th, std::span<double> g) { return full_batch(th, g); },
            theta_, lbfgs_opt, [this](const Progress& p) { return on_progress(p); }, validation_);
}

// The training rows that carry weight, for the preconditioners: a row of sample weight 0 is
// not in the objective, so it must not shape the path either (and a row of weight 2 shapes it
// as two copies would: the preconditioners weigh rows as the objective does).
template <class T>
std::span<const std::size_t> Fit<T>::shaping_rows() {
  if (options_.sample_weight.empty()) return split_.train;
  weighted_rows_.clear();
  for (std::size_t r = 0; r < n_local_train_; ++r) {
    const std::size_t row = split_.train.empty() ? r : split_.train[r];
    if (options_.sample_weight[row] > 0.0) weighted_rows_.push_back(row);
  }
  return weighted_rows_;
}

// A data-parallel fit's sample for the second-moment preconditioner: the rows a single process
// would sample from all the rows (evenly spaced), those this rank holds, as its row indices.
template <class T>
std::span<const std::size_t> Fit<T>::sampled_rows() {
  const std::size_t m = std::min(n_train_, detail::SecondMomentPreconditioner::kSampleRows);
  weighted_rows_.clear();
  for (std::size_t s = 0; s < m; ++s) {
    const std::size_t row = s * n_train_ / m;
    if (row >= par_.first_row && row - par_.first_row < n_) {
      weighted_rows_.push_back(row - par_.first_row);
    }
  }
  return weighted_rows_;
}

// H v of the penalized mean at the latest full pass, in the model's (preprocessed) parameters:
// the fold is linear, so the direction folds as parameters do and the product unfolds as a
// gradient does.
template <class T>
void Fit<T>::hessian_vector(std::span<const double> v, std::span<double> hv) {
  if (pre_.kind == Scaling::none) {
    objective_.hessian_vector_sum(v, hv);
  } else {
    v_raw_.resize(v.size());
    detail::fold(pre_, d_, k_, v, v_raw_);
    objective_.hessian_vector_sum(v_raw_, hv);
  }
  par_.sum(hv);
  if (pre_.kind != Scaling::none) detail::unfold_gradient(pre_, d_, k_, hv);
  const double inv = last_weight_ > 0.0 ? 1.0 / last_weight_ : 0.0;
  for (std::size_t j = 0; j < d_ * k_; ++j) hv[j] = hv[j] * inv + options_.l2 * v[j];
  for (std::size_t j = d_ * k_; j < hv.size(); ++j) hv[j] *= inv;
  if (!options_.fit_intercept) clear_bias(hv);
}

template <class T>
void Fit<T>::clear_bias(std::span<double> v) const {
  std::fill(v.begin() + std::ptrdiff_t(d_ * k_), v.end(), 0.0);
}

template <class T>
void Fit<T>::run_newton() {
  NewtonOptions newton;
  newton.max_iterations = options_.max_iter;
  newton.grad_tol = options_.tol;
  newton.rel_loss_tol = relative_loss_tolerance(options_.tol);
  newton.f_resolution = lbfgs_options().f_resolution;
  newton.patience = split_.valid.empty() ? 0 : options_.patience;
  if (options_.preconditioner != Preconditioner::none) {
    newton.preconditioner = detail::inverse_hessian_diagonal(
        data_.features, pre_, shaping_rows(), options_.sample_weight, k_, options_.l2, par_.comm);
  }
  newton.save = &newton_saved_;
  if (newton_resume_) newton.resume = &*newton_resume_;
  objective_.keep_probabilities(true);
  result_ =
      newton_cg([&](std::span<const double> th, std::span<double> g) { return full_batch(th, g); },
                [&](std::span<const double> v, std::span<double> hv) { hessian_vector(v, hv); },
                theta_, newton, [this](const Progress& p) { return on_progress(p); }, validation_);
  objective_.keep_probabilities(false);
}

// SAGA runs on the raw features (its lazy updates need the rows as they are), so it takes
// no preprocessing: the penalty would otherwise fall on other weights than the objective's.
template <class T>
void Fit<T>::run_saga() {
  if (pre_.kind != Scaling::none) {
    fail(std::string("solver saga works on the raw features; it takes no scaling (scale is ") +
         scaling_name(pre_.kind) + "): scale the data beforehand, or use lbfgs or newton-cg");
  }
  detail::SagaProblem problem;
  problem.y = labels_.y;
  problem.k = k_;
  problem.rows = split_.train;
  problem.sample_weight = options_.sample_weight;
  problem.class_weight = class_weight_;
  problem.l2 = options_.l2;
  problem.fit_intercept = options_.fit_intercept;
  detail::SagaOptions saga;
  saga.epochs = options_.max_iter;
  saga.grad_tol = options_.tol;
  saga.seed = options_.seed;
  saga.patience = split_.valid.empty() ? 0 : options_.patience;
  saga.threads = detail::resolve_threads(options_.threads);
  saga.save = &saga_saved_;
  if (saga_resume_) saga.resume = &*saga_resume_;
  result_ = detail::saga(
      data_.features, problem, theta_, saga,
      [&](std::span<const double> th, std::span<double> g) { return full_batch(th, g); },
      [this](const Progress& p) { return on_progress(p); }, validation_);
  check_diverged();
}

template <class T>
void Fit<T>::run_stochastic() {
  StochasticOptions stochastic = detail::stochastic_options(options_);
  stochastic.patience = split_.valid.empty() ? 0 : options_.patience;
  stochastic.save = &sgd_saved_;
  if (sgd_resume_) stochastic.resume = &*sgd_resume_;
  const BatchObjective objective = minibatch_objective();
  const ProgressCallback progress = [this](const Progress& p) { return on_progress(p); };
  result_ = options_.solver == Solver::sgd
                ? sgd(objective, n_train_, theta_, stochastic, progress, validation_)
                : adam(objective, n_train_, theta_, stochastic, progress, validation_);
  check_diverged();
}

// A loss that became NaN or infinite ends the fit with the model of the last finite epoch,
// named and recorded as fit's result would be, for a checkpoint.
template <class T>
void Fit<T>::check_diverged() {
  if (!result_.diverged) return;
  const std::string what = "softreg::SoftmaxRegression::fit: " + result_.message;
  const double loss = result_.loss;
  result_.loss =
      result_.history.empty() ? std::numeric_limits<double>::quiet_NaN() : result_.history.back();
  result_.message = "diverged in epoch " + std::to_string(result_.iterations + 1) +
                    "; the model after epoch " + std::to_string(result_.iterations);
  SoftmaxRegression last = finish();
  TrainingInfo info = last.info();
  info.parameters = option_record(options_);
  auto model = std::make_shared<const SoftmaxRegression>(
      last.classes(), last.n_features(), last.weights(), last.bias(), last.preprocessing(),
      std::move(info), fitted_feature_names(data_, warm_));
  throw FitDiverged(what, result_.iterations + 1, loss, std::move(model));
}

template <class T>
SoftmaxRegression Fit<T>::finish() {
  TrainingInfo info = detail::training_info(
      result_, options_, std::is_same_v<T, float> ? DType::float32 : DType::float64,
      reached_target_);
  info.message += warmup_note_;
  info.valid_loss = validation_ ? validation_(theta_) : -1.0;
  info.n_train = n_train_;
  info.n_valid = split_.valid.size();
  // Entry for entry with loss_history, or not at all (a solver that stopped between its
  // history and its progress report).
  const auto aligned = [&](std::vector<double>& v) {
    return v.size() == info.loss_history.size() ? std::move(v) : std::vector<double>();
  };
  info.accuracy_history = aligned(accuracy_history_);
  info.valid_loss_history = aligned(valid_loss_history_);
  info.valid_accuracy_history = aligned(valid_accuracy_history_);
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::vector<double> w(theta_.begin(), theta_.begin() + std::ptrdiff_t(d_ * k_));
  std::vector<double> b(theta_.begin() + std::ptrdiff_t(d_ * k_), theta_.end());
  return SoftmaxRegression(std::move(labels_.classes), d_, std::move(w), std::move(b), pre_,
                           std::move(info));
}

}  // namespace

std::optional<TrainOptions::Problem> TrainOptions::problem() const {
  using P = std::optional<Problem>;
  const auto number = [](double v) { return detail::format_number(v); };
  const auto integer = [](std::int64_t v) { return std::to_string(v); };
  if (!(l2 >= 0.0) || !std::isfinite(l2)) return P({"l2", "finite and >= 0", number(l2)});
  if (!(l1 >= 0.0) || !std::isfinite(l1)) return P({"l1", "finite and >= 0", number(l1)});
  if (!(tol >= 0.0)) return P({"tol", ">= 0", number(tol)});
  if (!(valid_fraction >= 0.0 && valid_fraction < 1.0)) {
    return P({"valid_fraction", "in [0, 1)", number(valid_fraction)});
  }
  if (max_iter < 0) return P({"max_iter", ">= 0", integer(max_iter)});
  if (epochs < 0) return P({"epochs", ">= 0", integer(epochs)});
  if (lbfgs_memory < 0 || lbfgs_memory > 10000) {
    return P({"lbfgs_memory", "in [0, 10000] (0: automatic)", integer(lbfgs_memory)});
  }
  if (lbfgs_warmup < -1 || lbfgs_warmup > 1000) {
    return P({"lbfgs_warmup", "in [0, 1000], or -1 for automatic", integer(lbfgs_warmup)});
  }
  if (batch_size < 1) return P({"batch_size", ">= 1", integer(batch_size)});
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    return P({"lr", "finite and >= 0 (0: the solver's default)", number(lr)});
  }
  if (!(momentum >= 0.0 && momentum < 1.0)) return P({"momentum", "in [0, 1)", number(momentum)});
  if (patience < 1) return P({"patience", ">= 1", integer(patience)});
  for (std::size_t i = 0; i < sample_weight.size(); ++i) {
    if (!(sample_weight[i] >= 0.0) || !std::isfinite(sample_weight[i])) {
      return P({"sample_weight[" + std::to_string(i) + "]", "finite and >= 0",
                number(sample_weight[i])});
    }
  }
  for (const auto& [label, weight] : class_weight) {
    if (!(weight >= 0.0) || !std::isfinite(weight)) {
      return P({"class_weight[\"" + label + "\"]", "finite and >= 0", number(weight)});
    }
  }
  return std::nullopt;
}

namespace {

std::string problem_text(const TrainOptions::Problem& p) {
  return p.field + " must be " + p.need + "; got " + p.got;
}

/// The shortest text that reads back as exactly v.
std::string exact_text(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::size_t training_memory(std::size_t n, std::size_t d, std::size_t k, Solver solver,
                            int lbfgs_memory) {
  // In double to stay clear of overflow for absurd sizes; saturates at SIZE_MAX.
  const double p = (double(d) + 1.0) * double(k), nk = double(n) * double(k),
               dk = double(d) * double(k);
  double bytes = 0.0;
  switch (solver) {
    case Solver::lbfgs:
    case Solver::automatic: {
      const double m = lbfgs_memory > 0
                           ? double(lbfgs_memory)
                           : std::min(100.0, std::max(10.0, double(64 << 20) / (16.0 * p)));
      bytes = 8.0 * p * (2.0 * m + 8.0);
      break;
    }
    case Solver::newton_cg:
      bytes = 8.0 * (8.0 * p + nk);
      break;
    case Solver::saga:  // the wide storage, or the widening's float and double gradients
      bytes = 8.0 * (std::max(nk + 2.0 * dk, 1.5 * nk) + 3.0 * p);
      break;
    case Solver::sgd:
    case Solver::adam:
      bytes = 48.0 * p;
      break;
  }
  return bytes >= double(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(bytes);
}

std::map<std::string, std::string> option_record(const TrainOptions& o) {
  std::map<std::string, std::string> out;
  out["solver"] = solver_name(o.solver);
  out["dtype"] = dtype_name(o.dtype);
  out["l2"] = exact_text(o.l2);
  out["l1"] = exact_text(o.l1);
  out["max_iter"] = std::to_string(o.max_iter);
  out["tol"] = exact_text(o.tol);
  out["lbfgs_memory"] = std::to_string(o.lbfgs_memory);
  out["lbfgs_warmup"] = std::to_string(o.lbfgs_warmup);
  out["preconditioner"] = std::string(name_of(o.preconditioner));
  out["epochs"] = std::to_string(o.epochs);
  out["batch_size"] = std::to_string(o.batch_size);
  out["lr"] = exact_text(o.lr);
  out["schedule"] = std::string(name_of(o.schedule));
  out["momentum"] = exact_text(o.momentum);
  out["valid_fraction"] = exact_text(o.valid_fraction);
  out["patience"] = std::to_string(o.patience);
  out["scale"] = scaling_name(o.scale);
  out["seed"] = std::to_string(o.seed);
  if (std::isfinite(o.target_loss)) out["target_loss"] = exact_text(o.target_loss);
  if (o.balanced) out["class_weight"] = "balanced";
  for (const auto& [label, weight] : o.class_weight) {
    out["class_weight[" + label + "]"] = exact_text(weight);
  }
  if (!o.sample_weight.empty()) out["sample_weight"] = "given";
  out["fit_intercept"] = o.fit_intercept ? "true" : "false";
  return out;
}

namespace {

/// Throws before a fit that could not fit in the machine's memory allocates anything: on
/// sparse data a single stray feature index (a typo of 50000000) makes every index up to it a
/// feature.
template <class T>
void check_memory(const Dataset<T>& data, const TrainOptions& options) {
  const std::size_t k =
      std::unordered_set<std::string>(data.labels.begin(), data.labels.end()).size();
  const std::size_t need =
      training_memory(data.rows(), data.cols(), k, options.solver, options.lbfgs_memory);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return;
  const auto have = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
  if (need <= have) return;
  auto gib = [](std::size_t b) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", double(b) / double(1 << 30));
    return std::string(text);
  };
  std::string what = data.source + ": training needs about " + gib(need) + " GiB for " +
                     std::to_string(data.cols()) + " features x " + std::to_string(k) +
                     " classes (solver " + solver_name(options.solver) + "), more than the " +
                     gib(have) + " GiB of memory this machine has";
  if (const auto* csr = std::get_if<CsrMatrix<T>>(&data.features)) {
    what += "; the data holds " + std::to_string(csr->nnz()) +
            " non-zeros: is a feature index far larger than the others?";
  }
  fail(what);
}

/// A resumed fit must be the stopped one continued: its state is in the warm start, and the
/// options that shape the path are the recorded ones.
void check_resume(const TrainOptions& options, const SoftmaxRegression* warm) {
  const char* key = resume_key(options.solver);
  if (warm == nullptr || warm->info().parameters.count(key) == 0) {
    fail(std::string("resume needs the model of a stopped ") + solver_name(options.solver) +
         " fit as the warm start (a checkpoint); " +
         (warm == nullptr ? "there is none" : "this one holds no resume state for it"));
  }
  const auto& was = warm->info().parameters;
  for (const auto& [name, value] : option_record(options)) {
    const auto it = was.find(name);
    if (name == "solver" || (it != was.end() && it->second == value)) continue;
    fail("resume needs the options of the stopped fit: " + name + " was " +
         (it == was.end() ? std::string("not set") : it->second) + ", now " + value);
  }
}

/// The model's feature names: the data's, or the warm start's when the data names none; a
/// warm start that names them otherwise is an error.
template <class T>
std::vector<std::string> fitted_feature_names(const Dataset<T>& data,
                                              const SoftmaxRegression* warm) {
  if (!warm || warm->feature_names().empty()) return data.feature_names;
  if (data.feature_names.empty()) return warm->feature_names();
  const auto& w = warm->feature_names();
  for (std::size_t j = 0; j < w.size(); ++j) {
    if (j >= data.feature_names.size() || data.feature_names[j] != w[j]) {
      fail("the data's column " + std::to_string(j) + " is \"" +
           (j < data.feature_names.size() ? data.feature_names[j] : std::string()) +
           "\" where the warm start model has feature \"" + w[j] +
           "\"; expected the model's features in its order");
    }
  }
  return data.feature_names;
}

}  // namespace

void TrainOptions::validate() const {
  if (const auto p = problem()) throw InvalidArgument("softreg::TrainOptions: " + problem_text(*p));
}

template <class T>
Solver choose_solver(const Dataset<T>& data, const TrainOptions& options,
                     const SoftmaxRegression* warm) {
  if (options.solver != Solver::automatic) return options.solver;
  if (options.l1 > 0.0) return Solver::lbfgs;  // OWL-QN: the one solver with an L1 term
  const Scaling scale = warm ? warm->preprocessing().kind : options.scale;
  if (!data.sparse() || scale != Scaling::none) return Solver::lbfgs;
  const std::size_t k =
      std::unordered_set<std::string>(data.labels.begin(), data.labels.end()).size();
  const std::size_t n = data.rows(), d = data.cols();
  const bool large = k > 0 && d >= kSagaMinParameters / k + (kSagaMinParameters % k != 0);
  const bool fits = k == 0 || n <= kSagaMaxMemory / (8 * k);
  return large && fits ? Solver::saga : Solver::lbfgs;
}

template Solver choose_solver<float>(const Dataset<float>&, const TrainOptions&,
                                     const SoftmaxRegression*);
template Solver choose_solver<double>(const Dataset<double>&, const TrainOptions&,
                                      const SoftmaxRegression*);

namespace {

/// The ranks' rows and labels: every rank's row count and distinct labels, gathered, give this
/// rank's first row and the sorted union of the classes (collective).
template <class T>
Parallel agree_on_rows(const Dataset<T>& data, Communicator& comm) {
  StateWriter w;
  w.put(std::uint64_t{data.rows()});
  const std::set<std::string> distinct(data.labels.begin(), data.labels.end());
  w.put(std::uint64_t{distinct.size()});
  std::string bytes = w.take();
  for (const std::string& label : distinct) {
    const std::uint64_t size = label.size();
    bytes.append(reinterpret_cast<const char*>(&size), sizeof size);
    bytes += label;
  }
  const std::vector<std::string> all = comm.all_gather(bytes);
  Parallel par;
  par.comm = &comm;
  std::set<std::string> classes;
  for (std::size_t r = 0; r < all.size(); ++r) {
    const std::string& b = all[r];
    std::uint64_t rows = 0, count = 0;
    std::memcpy(&rows, b.data(), 8);
    std::memcpy(&count, b.data() + 8, 8);
    if (r < std::size_t(comm.rank())) par.first_row += std::size_t(rows);
    par.total_rows += std::size_t(rows);
    for (std::size_t at = 16; count > 0; --count) {
      std::uint64_t size = 0;
      std::memcpy(&size, b.data() + at, 8);
      classes.insert(b.substr(at + 8, std::size_t(size)));
      at += 8 + std::size_t(size);
    }
  }
  const std::vector<std::string> distinct_all(classes.begin(), classes.end());
  par.classes = sorted_classes(distinct_all);
  return par;
}

/// What a data-parallel fit cannot do, and the solver it runs.
void check_parallel(TrainOptions& options) {
  if (options.valid_fraction > 0.0) {
    fail(
        "a validation split is not available in a distributed fit; hold out a file and "
        "evaluate the model on it");
  }
  if (options.solver == Solver::saga) {
    fail(
        "solver saga cannot run distributed (its steps go row by row); use lbfgs, newton-cg, "
        "sgd or adam");
  }
  if (options.solver == Solver::automatic) options.solver = Solver::lbfgs;
}

}  // namespace

template <class T>
SoftmaxRegression SoftmaxRegression::fit(const Dataset<T>& data, const TrainOptions& given,
                                         const SoftmaxRegression* warm) {
  Communicator* comm = given.communicator != nullptr && given.communicator->size() > 1
                           ? given.communicator
                           : nullptr;
  Parallel par;
  if (comm != nullptr) par = agree_on_rows(data, *comm);
  TrainOptions options = given;
  std::vector<std::string> names;
  // The checks before training; in a distributed fit every rank hears of any rank's failure.
  const auto prepare = [&] {
    if ((comm != nullptr ? par.total_rows : data.rows()) == 0) {
      fail("the training data has no rows");
    }
    if (data.labels.size() != data.rows()) {
      fail("training needs one label per row (" + data.source + ")");
    }
    if (const auto p = given.problem()) fail(problem_text(*p));
    check_sample_weight_count(given, data.rows(), comm != nullptr);
    if (warm && warm->n_features() != data.cols()) {
      fail("warm start model has " + std::to_string(warm->n_features()) +
           " features, the data has " + std::to_string(data.cols()));
    }
    names = fitted_feature_names(data, warm);
    if (comm != nullptr) {
      check_parallel(options);
      index_labels(std::span<const std::string>(data.labels), data.source, warm, par);
    } else {
      options.solver = choose_solver(data, given, warm);
    }
    if (options.resume) check_resume(options, warm);
    check_memory(data, options);
    if (options.l1 > 0.0 && options.solver != Solver::lbfgs) {
      fail(std::string("l1 > 0 needs solver lbfgs (OWL-QN) or auto; got ") +
           solver_name(options.solver));
    }
  };
  if (comm != nullptr) {
    all_succeed(*comm, prepare);
    double weight[1] = {0.0};
    for (const double s : given.sample_weight) weight[0] += s;
    comm->sum(weight);
    if (!std::isfinite(weight[0])) fail("sample_weight sums to infinity over the ranks");
    if (!given.sample_weight.empty() && !(weight[0] > 0.0)) {
      fail("sample_weight is all zero on every rank; at least one row must carry weight");
    }
  } else {
    prepare();
  }
  Fit<T> fit(data, options, warm, par);
  if (options.solver == Solver::lbfgs) {
    fit.run_lbfgs();
  } else if (options.solver == Solver::newton_cg) {
    fit.run_newton();
  } else if (options.solver == Solver::saga) {
    fit.run_saga();
  } else {
    fit.run_stochastic();
  }
  SoftmaxRegression model = fit.finish();
  if (options.resume) model.info_.seconds += warm->info().seconds;
  if (!names.empty()) {
    model = SoftmaxRegression(model.classes_, model.d_, std::move(model.w_), std::move(model.b_),
                              std::move(model.pre_), std::move(model.info_), std::move(names));
  }
  model.info_.parameters = option_record(given);
  if (data.index_base == IndexBase::zero || data.index_base == IndexBase::one) {
    model.info_.parameters["index_base"] = data.index_base == IndexBase::zero ? "0" : "1";
  }
  if (auto [key, state] = fit.resume_record(); !key.empty()) {
    model.info_.parameters[key] = std::move(state);
    if (!fit.warmup_note().empty()) model.info_.parameters["resume.note"] = fit.warmup_note();
  }
  return model;
}

template SoftmaxRegression SoftmaxRegression::fit<float>(const Dataset<float>&, const TrainOptions&,
                                                         const SoftmaxRegression*);
template SoftmaxRegression SoftmaxRegression::fit<double>(const Dataset<double>&,
                                                          const TrainOptions&,
                                                          const SoftmaxRegression*);

}  // namespace softreg
