// fit_streamed: training on a file read block by block, never whole in memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <variant>

#include "model/fit_rules.hpp"
#include "model/preconditioner.hpp"
#include "model/preprocess.hpp"
#include "softreg/distributed.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/names.hpp"
#include "softreg/objective.hpp"

namespace softreg {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw InvalidArgument("softreg::fit_streamed: " + what);
}

/// The size of a plain regular file; a gzip file, a pipe or "-" cannot be entered at a block.
std::uint64_t plain_file_size(const std::string& path) {
  if (path == "-") fail("standard input cannot be streamed in blocks; expected a file name");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  unsigned char magic[2] = {0, 0};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const bool gzip = ok && ::read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  ::close(fd);
  if (!ok) fail(path + ": is not a regular file; --stream reads blocks of a file by seeking");
  if (gzip) {
    fail(path +
         ": is gzip-compressed, and a deflate stream cannot be entered at a block; "
         "decompress it first (zcat " +
         path + " > FILE) to stream it");
  }
  return static_cast<std::uint64_t>(st.st_size);
}

template <class T>
class StreamFit {
 public:
  StreamFit(const std::string& path, const ReadOptions& read, const TrainOptions& options,
            std::size_t block_bytes);
  SoftmaxRegression run();

 private:
  void check();
  Dataset<T> read_block(std::size_t j) const;
  void survey();
  void measure();
  double full_pass(std::span<const double> th, std::span<double> g);
  double block_batch(std::span<const double> th, std::span<double> g,
                     std::span<const std::size_t> positions);
  double finish_pass(std::span<const double> th, std::span<double> g, ObjectiveSums sums);
  void run_lbfgs();
  void run_stochastic();
  bool on_progress(const Progress& p);

  std::string path_;
  ReadOptions read_;
  TrainOptions options_;
  Communicator* comm_;
  int rank_ = 0, ranks_ = 1;
  std::size_t blocks_ = 1;  // this rank's blocks
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  // What the survey found, over every rank's blocks.
  std::vector<std::size_t> block_rows_;  // this rank's, per block
  std::size_t total_rows_ = 0, first_row_ = 0, d_ = 0, k_ = 0;
  bool zero_based_ = false, libsvm_ = false;
  std::vector<std::string> classes_, names_;
  std::vector<double> class_weight_;
  Preprocessing pre_;
  std::vector<double> h0_;  // the diagonal preconditioner
  std::unique_ptr<detail::SecondMomentPreconditioner> second_moment_;
  std::vector<double> theta_, theta_raw_, g_block_, packed_;
  double accuracy_ = 0.0;
  std::size_t seen_ = 0, correct_ = 0;
  OptimResult result_;
  std::vector<double> accuracy_history_;
  bool reached_target_ = false;  // the progress hook stopped the fit at --target-loss
  // SGD / Adam: the block in memory and its objective.
  std::size_t cached_ = SIZE_MAX;
  std::unique_ptr<Dataset<T>> block_;
  std::vector<std::int64_t> block_y_;
  std::unique_ptr<SoftmaxObjective<T>> block_objective_;
  std::vector<std::size_t> block_start_;  // global position of each block's first row
  // SGD / Adam's epochs: super-block j is block j of every rank, rank 0's rows first; its
  // first position, and where this rank's rows start within it.
  std::vector<std::size_t> super_start_, my_offset_;
  std::vector<std::size_t> local_;
};

template <class T>
StreamFit<T>::StreamFit(const std::string& path, const ReadOptions& read,
                        const TrainOptions& options, std::size_t block_bytes)
    : path_(path), read_(read), options_(options), comm_(options.communicator) {
  if (comm_ != nullptr && comm_->size() <= 1) comm_ = nullptr;
  if (comm_ != nullptr) {
    rank_ = comm_->rank();
    ranks_ = comm_->size();
  }
  if (block_bytes == 0) fail("the block size must be at least 1 byte");
  const std::uint64_t size = plain_file_size(path);
  const std::uint64_t per_rank = (size + std::uint64_t(ranks_) - 1) / std::uint64_t(ranks_);
  blocks_ = std::max<std::size_t>(1, std::size_t((per_rank + block_bytes - 1) / block_bytes));
  if (comm_ != nullptr) {  // the same block count everywhere: shards are cut from it
    double b[1] = {double(blocks_)};
    comm_->max(b);
    blocks_ = std::size_t(b[0]);
  }
  read_.require_labels = true;
}

// Block j of this rank: shard rank * blocks + j of ranks * blocks, so that a rank's blocks
// together are its shard of read_shard.
template <class T>
Dataset<T> StreamFit<T>::read_block(std::size_t j) const {
  ReadOptions r = read_;
  r.shard_index = std::size_t(rank_) * blocks_ + j;
  r.shard_count = std::size_t(ranks_) * blocks_;
  Dataset<T> ds = read_dataset<T>(path_, r);
  if (auto* csr = std::get_if<CsrMatrix<T>>(&ds.features)) {
    if (zero_based_ && ds.index_base == IndexBase::one) {
      for (std::int32_t& c : csr->indices) ++c;
    }
    if (d_ != 0) csr->cols = d_;
  }
  return ds;
}

// The first pass: rows, labels, columns and names of every block.
template <class T>
void StreamFit<T>::survey() {
  std::set<std::string> labels;
  // The widest block if the file is 1-based, if it is 0-based, and whether a block saw an
  // index 0 (a block read 1-based moves up by one in a 0-based file, as read_shard does).
  double widths[3] = {0.0, 0.0, 0.0};
  block_rows_.assign(blocks_, 0);
  const auto step = [&] {
    for (std::size_t j = 0; j < blocks_; ++j) {
      const Dataset<T> ds = read_block(j);
      block_rows_[j] = ds.rows();
      labels.insert(ds.labels.begin(), ds.labels.end());
      const auto* csr = std::get_if<CsrMatrix<T>>(&ds.features);
      const bool shifts = csr != nullptr && ds.index_base == IndexBase::one && csr->nnz() > 0;
      widths[0] = std::max(widths[0], double(ds.cols()));
      widths[1] = std::max(widths[1], double(ds.cols()) + (shifts ? 1.0 : 0.0));
      if (ds.index_base == IndexBase::zero) widths[2] = 1.0;
      if (names_.empty()) names_ = ds.feature_names;
      libsvm_ = ds.format == DataFormat::libsvm;
    }
  };
  comm_ != nullptr ? all_succeed(*comm_, step) : step();
  std::vector<double> rows(std::size_t(ranks_), 0.0);
  rows[std::size_t(rank_)] =
      double(std::accumulate(block_rows_.begin(), block_rows_.end(), std::size_t{0}));
  if (comm_ != nullptr) {
    comm_->max(widths);
    comm_->sum(rows);
  }
  zero_based_ = read_.index_base == IndexBase::zero ||
                (read_.index_base == IndexBase::automatic && widths[2] > 0.0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (int(r) < rank_) first_row_ += std::size_t(rows[r]);
    total_rows_ += std::size_t(rows[r]);
  }
  if (total_rows_ == 0) fail(path_ + ": the file holds no data rows");
  std::string bytes;
  for (const std::string& l : labels) bytes += l + '\n';
  std::set<std::string> all;
  for (const std::string& part :
       comm_ != nullptr ? comm_->all_gather(bytes) : std::vector<std::string>{bytes}) {
    for (std::size_t at = 0; at < part.size();) {
      const std::size_t nl = part.find('\n', at);
      all.insert(part.substr(at, nl - at));
      at = nl + 1;
    }
  }
  const std::vector<std::string> distinct(all.begin(), all.end());
  classes_ = detail::sorted_classes(distinct);
  k_ = classes_.size();
  if (k_ < 2) fail(path_ + ": training needs at least 2 classes; the labels hold only one");
  d_ = static_cast<std::size_t>(widths[zero_based_ && read_.n_features == 0 ? 1 : 0]);
  block_start_.assign(blocks_, 0);
  for (std::size_t j = 0, at = first_row_; j < blocks_; ++j) {
    block_start_[j] = at;
    at += block_rows_[j];
  }
}

// The second pass: the class masses, the feature moments and the preconditioner's sample.
template <class T>
void StreamFit<T>::measure() {
  detail::FeatureMoments moments(d_);
  std::vector<double> mass(k_ + k_, 0.0);  // per class: weighted mass, then row count
  // The rows a single process samples for the second-moment preconditioner, gathered here.
  const std::size_t m = std::min(total_rows_, detail::SecondMomentPreconditioner::kSampleRows);
  const bool dense_sample = d_ <= detail::SecondMomentPreconditioner::kMaxFeatures &&
                            options_.preconditioner == Preconditioner::automatic;
  DenseMatrix<T> sample;
  sample.cols = d_;
  std::vector<double> sample_weight;
  std::size_t next = 0;  // the next sample index s, whose row is s * total / m
  while (next < m && next * total_rows_ / m < first_row_) ++next;
  for (std::size_t j = 0; j < blocks_; ++j) {
    const Dataset<T> ds = read_block(j);
    const std::vector<std::int64_t> y = class_indices(classes_, ds.labels);
    for (std::size_t i = 0; i < ds.rows(); ++i) {
      const double s = ds.sample_weight.empty() ? 1.0 : ds.sample_weight[i];
      mass[std::size_t(y[i])] += s;
      mass[k_ + std::size_t(y[i])] += 1.0;
    }
    moments.add(ds.features, {}, ds.sample_weight);
    if (!dense_sample) continue;
    for (; next < m && next * total_rows_ / m < block_start_[j] + ds.rows(); ++next) {
      const std::size_t row = next * total_rows_ / m - block_start_[j];
      const std::size_t at = sample.data.size();
      sample.data.resize(at + d_, T(0));
      if (const auto* dense = std::get_if<DenseMatrix<T>>(&ds.features)) {
        std::copy_n(dense->row(row).data(), d_, sample.data.begin() + std::ptrdiff_t(at));
      } else {
        const auto& csr = std::get<CsrMatrix<T>>(ds.features);
        for (auto p = csr.indptr[row]; p < csr.indptr[row + 1]; ++p) {
          sample.data[at + std::size_t(csr.indices[std::size_t(p)])] += csr.values[std::size_t(p)];
        }
      }
      sample_weight.push_back(ds.sample_weight.empty() ? 1.0 : ds.sample_weight[row]);
      ++sample.rows;
    }
  }
  moments.combine(comm_);
  if (comm_ != nullptr) comm_->sum(mass);
  // Class weights: balanced (n / (K n_c)), then the named ones.
  if (options_.balanced || !options_.class_weight.empty()) {
    class_weight_.assign(k_, 1.0);
    for (std::size_t c = 0; c < k_ && options_.balanced; ++c) {
      class_weight_[c] = mass[k_ + c] > 0 ? double(total_rows_) / (double(k_) * mass[k_ + c]) : 0.0;
    }
    for (const auto& [label, value] : options_.class_weight) {
      const auto it = std::find(classes_.begin(), classes_.end(), label);
      if (it == classes_.end()) fail("class_weight names \"" + label + "\", which is not a class");
      class_weight_[std::size_t(it - classes_.begin())] = value;
    }
  }
  pre_ = moments.preprocessing(options_.scale);
  const std::size_t np = d_ * k_ + k_;
  theta_.assign(np, 0.0);
  theta_raw_.resize(np);
  g_block_.resize(np);
  // The class priors as the start (see Fit::start_at_class_priors).
  if (options_.fit_intercept) {
    std::vector<double> w(k_);
    for (std::size_t c = 0; c < k_; ++c) {
      w[c] = mass[c] * (class_weight_.empty() ? 1.0 : class_weight_[c]);
    }
    if (std::all_of(w.begin(), w.end(), [](double v) { return v > 0.0; })) {
      double mean = 0.0;
      for (double& v : w) mean += (v = std::log(v)) / double(k_);
      for (std::size_t c = 0; c < k_; ++c) theta_[d_ * k_ + c] = w[c] - mean;
    }
  }
  if (options_.preconditioner == Preconditioner::none) return;
  if (dense_sample) {
    const FeatureMatrix<T> x = std::move(sample);
    std::vector<std::size_t> rows(rows_of(x));
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    second_moment_ = detail::SecondMomentPreconditioner::build(
        x, pre_,
        comm_ != nullptr ? std::span<const std::size_t>(rows) : std::span<const std::size_t>(),
        sample_weight, k_, options_.l2, options_.threads, comm_);
  }
  if (!second_moment_) h0_ = moments.inverse_hessian_diagonal(pre_, k_, options_.l2);
}

// The sums of one pass, combined over the ranks, as the penalized mean (Fit::penalized).
template <class T>
double StreamFit<T>::finish_pass(std::span<const double> th, std::span<double> g,
                                 ObjectiveSums sums) {
  if (comm_ != nullptr) {  // one buffer for every pass and mini-batch
    packed_.assign(g.begin(), g.end());
    packed_.insert(packed_.end(),
                   {sums.loss, sums.weight, double(sums.correct), double(sums.rows)});
    comm_->sum(packed_);
    std::copy_n(packed_.begin(), g.size(), g.begin());
    const double* tail = packed_.data() + g.size();
    sums = {tail[0], tail[1], std::size_t(tail[2]), std::size_t(tail[3])};
  }
  accuracy_ = sums.rows > 0 ? double(sums.correct) / double(sums.rows) : 0.0;
  seen_ += sums.rows;
  correct_ += sums.correct;
  if (!g.empty()) detail::unfold_gradient(pre_, d_, k_, g);
  const double f = penalized_mean(sums, th, k_, g, options_.l2);
  if (!options_.fit_intercept && !g.empty()) {
    std::fill(g.begin() + std::ptrdiff_t(d_ * k_), g.end(), 0.0);
  }
  return f;
}

// Every block read again and evaluated in order: one pass over the file.
template <class T>
double StreamFit<T>::full_pass(std::span<const double> th, std::span<double> g) {
  detail::fold(pre_, d_, k_, th, theta_raw_);
  ObjectiveSums sums;
  if (!g.empty()) std::fill(g.begin(), g.end(), 0.0);
  ObjectiveOptions o;
  o.class_weight = class_weight_;
  o.threads = options_.threads;
  for (std::size_t j = 0; j < blocks_; ++j) {
    const Dataset<T> ds = read_block(j);
    const std::vector<std::int64_t> y = class_indices(classes_, ds.labels);
    o.sample_weight = ds.sample_weight;
    SoftmaxObjective<T> objective(ds.features, y, k_, o);
    const ObjectiveSums s =
        objective.sums(theta_raw_, g.empty() ? std::span<double>() : std::span<double>(g_block_));
    sums.loss += s.loss;
    sums.weight += s.weight;
    sums.correct += s.correct;
    sums.rows += s.rows;
    for (std::size_t i = 0; i < g.size(); ++i) g[i] += g_block_[i];
  }
  seen_ = correct_ = 0;
  return finish_pass(th, g, sums);
}

// A mini-batch of SGD / Adam: positions all fall in one super-block (block j of every rank;
// StochasticOptions::block_rows), of which each rank evaluates its own rows.
template <class T>
double StreamFit<T>::block_batch(std::span<const double> th, std::span<double> g,
                                 std::span<const std::size_t> positions) {
  const std::size_t j =
      std::size_t(std::upper_bound(super_start_.begin(), super_start_.end(), positions.front()) -
                  super_start_.begin() - 1);
  if (j != cached_) {
    block_objective_.reset();
    block_ = std::make_unique<Dataset<T>>(read_block(j));
    block_y_ = class_indices(classes_, block_->labels);
    ObjectiveOptions o;
    o.class_weight = class_weight_;
    o.sample_weight = block_->sample_weight;
    o.threads = options_.threads;
    block_objective_ = std::make_unique<SoftmaxObjective<T>>(block_->features, block_y_, k_, o);
    cached_ = j;
  }
  local_.clear();
  const std::size_t begin = super_start_[j] + my_offset_[j], end = begin + block_rows_[j];
  for (const std::size_t p : positions) {
    if (p >= begin && p < end) local_.push_back(p - begin);
  }
  detail::fold(pre_, d_, k_, th, theta_raw_);
  return finish_pass(th, g, block_objective_->sums(theta_raw_, g, local_));
}

template <class T>
bool StreamFit<T>::on_progress(const Progress& p) {
  Progress q = p;
  const bool stochastic = options_.solver == Solver::sgd || options_.solver == Solver::adam;
  q.accuracy = stochastic && seen_ > 0 ? double(correct_) / double(seen_) : accuracy_;
  seen_ = correct_ = 0;
  accuracy_history_.push_back(q.accuracy);
  bool go_on = options_.progress ? options_.progress(q) : true;
  if (comm_ != nullptr) {
    double stop[1] = {go_on ? 0.0 : 1.0};
    comm_->max(stop);
    go_on = stop[0] == 0.0;
  }
  if (p.loss <= options_.target_loss) reached_target_ = true;
  return go_on && !reached_target_;
}

template <class T>
void StreamFit<T>::run_lbfgs() {
  LbfgsOptions o = detail::lbfgs_options(options_, theta_.size(),
                                         double(std::numeric_limits<T>::epsilon()), d_ * k_);
  if (second_moment_) {
    o.h0_apply = [&](std::span<double> v) {
      second_moment_->apply(v);
      if (!options_.fit_intercept) std::fill(v.begin() + std::ptrdiff_t(d_ * k_), v.end(), 0.0);
    };
  } else if (!h0_.empty()) {
    o.h0_diagonal = h0_;
  }
  result_ = lbfgs([&](std::span<const double> th, std::span<double> g) { return full_pass(th, g); },
                  theta_, o, [this](const Progress& p) { return on_progress(p); });
}

template <class T>
void StreamFit<T>::run_stochastic() {
  StochasticOptions o = detail::stochastic_options(options_);
  // Every rank's rows per block, so that each mini-batch is spread over the ranks.
  std::vector<double> rows(std::size_t(ranks_) * blocks_, 0.0);
  for (std::size_t j = 0; j < blocks_; ++j)
    rows[std::size_t(rank_) * blocks_ + j] = double(block_rows_[j]);
  if (comm_ != nullptr) comm_->sum(rows);
  super_start_.assign(blocks_, 0);
  my_offset_.assign(blocks_, 0);
  for (std::size_t j = 0, at = 0; j < blocks_; ++j) {
    super_start_[j] = at;
    for (std::size_t r = 0; r < std::size_t(ranks_); ++r) {
      if (r == std::size_t(rank_)) my_offset_[j] = at - super_start_[j];
      at += std::size_t(rows[r * blocks_ + j]);
    }
    o.block_rows.push_back(at - super_start_[j]);
  }
  const BatchObjective f = [this](std::span<const double> th, std::span<double> g,
                                  std::span<const std::size_t> positions) {
    return block_batch(th, g, positions);
  };
  const ProgressCallback progress = [this](const Progress& p) { return on_progress(p); };
  result_ = options_.solver == Solver::sgd ? sgd(f, total_rows_, theta_, o, progress)
                                           : adam(f, total_rows_, theta_, o, progress);
  block_objective_.reset();
  block_.reset();
  if (!std::isfinite(result_.loss)) fail(result_.message);
}

template <class T>
void StreamFit<T>::check() {
  if (options_.solver == Solver::automatic) options_.solver = Solver::lbfgs;
  if (options_.solver != Solver::lbfgs && options_.solver != Solver::sgd &&
      options_.solver != Solver::adam) {
    fail(std::string("solver ") + solver_name(options_.solver) +
         " cannot stream (Newton-CG keeps every row's probabilities, SAGA every row's "
         "gradient); use lbfgs, sgd or adam");
  }
  if (options_.valid_fraction > 0.0) fail("a validation split is not available when streaming");
  if (options_.resume || !options_.sample_weight.empty()) {
    fail(
        "streaming takes no resume state and no separate sample weights (use a CSV weight "
        "column)");
  }
}

template <class T>
SoftmaxRegression StreamFit<T>::run() {
  comm_ != nullptr ? all_succeed(*comm_, [&] { check(); }) : check();
  survey();
  measure();
  if (options_.solver == Solver::lbfgs) {
    run_lbfgs();
  } else {
    run_stochastic();
  }
  TrainingInfo info = detail::training_info(
      result_, options_, std::is_same_v<T, float> ? DType::float32 : DType::float64,
      reached_target_);
  info.valid_loss = -1.0;
  info.n_train = total_rows_;
  if (accuracy_history_.size() == info.loss_history.size()) {
    info.accuracy_history = accuracy_history_;
  }
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  info.parameters = option_record(options_);
  if (libsvm_) info.parameters["index_base"] = zero_based_ ? "0" : "1";
  std::vector<double> w(theta_.begin(), theta_.begin() + std::ptrdiff_t(d_ * k_));
  std::vector<double> b(theta_.begin() + std::ptrdiff_t(d_ * k_), theta_.end());
  return SoftmaxRegression(classes_, d_, std::move(w), std::move(b), pre_, std::move(info), names_);
}

}  // namespace

template <class T>
SoftmaxRegression fit_streamed(const std::string& path, const ReadOptions& read,
                               const TrainOptions& options, std::size_t block_bytes) {
  if (const auto p = options.problem()) {
    fail(p->field + " must be " + p->need + "; got " + p->got);
  }
  StreamFit<T> fit(path, read, options, block_bytes);
  return fit.run();
}

template SoftmaxRegression fit_streamed<float>(const std::string&, const ReadOptions&,
                                               const TrainOptions&, std::size_t);
template SoftmaxRegression fit_streamed<double>(const std::string&, const ReadOptions&,
                                                const TrainOptions&, std::size_t);

}  // namespace softreg
