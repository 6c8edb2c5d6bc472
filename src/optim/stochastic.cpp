// Mini-batch SGD with heavy-ball momentum and Adam, with learning-rate schedules and early
// stopping on a validation loss.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/random.hpp"
#include "optim/monitor.hpp"
#include "softreg/error.hpp"
#include "softreg/optim.hpp"

namespace softreg {
namespace {

enum class Method { sgd, adam };

double learning_rate(const StochasticOptions& o, std::size_t step, std::size_t steps_per_epoch,
                     std::size_t total_steps) {
  switch (o.schedule) {
    case LrSchedule::constant:
      return o.lr;
    case LrSchedule::inverse_sqrt:
      return o.lr / std::sqrt(1.0 + double(step) / double(steps_per_epoch));
    case LrSchedule::cosine:
      return o.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * double(step) / double(total_steps)));
  }
  return o.lr;
}

void check_options(const char* caller, const StochasticOptions& o) {
  const bool ok = o.epochs >= 0 && o.batch_size >= 1 && o.lr > 0.0 && std::isfinite(o.lr) &&
                  o.momentum >= 0.0 && o.momentum < 1.0 && o.beta1 >= 0.0 && o.beta1 < 1.0 &&
                  o.beta2 >= 0.0 && o.beta2 < 1.0 && o.adam_eps > 0.0 && o.patience >= 0;
  if (!ok) {
    throw InvalidArgument(std::string(caller) +
                          ": options out of range (need epochs >= 0, batch_size >= 1, lr > 0, "
                          "0 <= momentum, beta1, beta2 < 1, adam_eps > 0, patience >= 0)");
  }
}

OptimResult run(Method method, const BatchObjective& f, std::size_t n, std::span<double> x,
                const StochasticOptions& o, const ProgressCallback& progress,
                const ValidationLoss& validation) {
  const char* caller = method == Method::sgd ? "softreg::sgd" : "softreg::adam";
  check_options(caller, o);
  OptimResult result;
  result.grad_norm = std::numeric_limits<double>::quiet_NaN();
  result.message = "completed every epoch";
  if (n == 0) throw InvalidArgument(std::string(caller) + ": no rows to train on");
  const std::size_t dim = x.size();
  std::vector<double> g(dim), m1(dim, 0.0), m2(dim, 0.0);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(o.seed);
  // The mini-batches of an epoch as [begin, end) of `order`: cut per block.
  const std::vector<std::size_t> blocks =
      o.block_rows.empty() ? std::vector<std::size_t>{n} : o.block_rows;
  std::vector<std::pair<std::size_t, std::size_t>> batches;
  std::size_t block_start = 0;
  for (const std::size_t rows : blocks) {
    for (std::size_t b = 0; b < rows; b += o.batch_size) {
      batches.emplace_back(block_start + b, block_start + std::min(rows, b + o.batch_size));
    }
    block_start += rows;
  }
  if (block_start != n) {
    throw InvalidArgument(std::string(caller) + ": block_rows sum to " +
                          std::to_string(block_start) + ", expected n = " + std::to_string(n));
  }
  const auto shuffle_order = [&] {
    std::size_t at = 0;
    for (const std::size_t rows : blocks) {
      detail::shuffle(std::span<std::size_t>(order.data() + at, rows), rng);
      at += rows;
    }
  };
  const std::size_t per_epoch = batches.size();
  const std::size_t total = per_epoch * std::size_t(std::max(o.epochs, 1));
  std::size_t step = 0;
  detail::IterationMonitor monitor(progress, validation, o.patience);
  int first = 1;
  if (o.resume) {
    const StochasticState& st = *o.resume;
    if (st.m1.size() != dim || st.m2.size() != dim || st.epochs < 0) {
      throw InvalidArgument(std::string(caller) +
                            ": the state to resume does not fit these parameters");
    }
    monitor.resume(st.early_stopping, x, caller);
    m1 = st.m1;
    m2 = st.m2;
    step = st.steps;
    result.evaluations = st.evaluations;
    result.history = st.history;
    result.iterations = st.epochs;
    if (!st.history.empty()) result.loss = st.history.back();
    // The row order and the generator as the epochs done left them.
    for (int e = 0; e < st.epochs; ++e) shuffle_order();
    first = st.epochs + 1;
  }
  auto keep_state = [&]() {
    if (!o.save) return;
    o.save->epochs = result.iterations;
    o.save->steps = step;
    o.save->evaluations = result.evaluations;
    o.save->history = result.history;
    o.save->m1 = m1;
    o.save->m2 = m2;
    monitor.save(x, o.save->early_stopping);
  };

  std::vector<double> last_good(dim);  // x after the latest finite epoch
  for (int epoch = first; epoch <= o.epochs; ++epoch) {
    std::copy(x.begin(), x.end(), last_good.begin());
    shuffle_order();
    double loss_sum = 0.0;
    for (std::size_t b = 0; b < per_epoch; ++b, ++step) {
      const std::size_t begin = batches[b].first;
      const std::size_t len = batches[b].second - begin;
      const double loss = f(x, g, std::span<const std::size_t>(order.data() + begin, len));
      ++result.evaluations;
      if (!std::isfinite(loss)) {
        result.message = "diverged in epoch " + std::to_string(epoch) + " (mini-batch " +
                         std::to_string(b + 1) + " of " + std::to_string(per_epoch) +
                         "): the mini-batch loss became " + std::to_string(loss) +
                         "; lower the learning rate (" + std::to_string(o.lr) + ")";
        result.loss = loss;
        result.iterations = epoch - 1;
        result.diverged = true;
        std::copy(last_good.begin(), last_good.end(), x.begin());
        return result;
      }
      loss_sum += loss * double(len);
      const double lr = learning_rate(o, step, per_epoch, total);
      if (method == Method::sgd) {
        for (std::size_t j = 0; j < dim; ++j) {
          m1[j] = o.momentum * m1[j] - lr * g[j];
          x[j] += m1[j];
        }
      } else {
        const double t = double(step + 1);
        const double c1 = 1.0 - std::pow(o.beta1, t);
        const double c2 = 1.0 - std::pow(o.beta2, t);
        for (std::size_t j = 0; j < dim; ++j) {
          m1[j] = o.beta1 * m1[j] + (1.0 - o.beta1) * g[j];
          m2[j] = o.beta2 * m2[j] + (1.0 - o.beta2) * g[j] * g[j];
          x[j] -= lr * (m1[j] / c1) / (std::sqrt(m2[j] / c2) + o.adam_eps);
        }
      }
    }
    result.iterations = epoch;
    result.loss = loss_sum / double(n);
    result.history.push_back(result.loss);
    Progress p;
    p.iteration = epoch;
    p.max_iterations = o.epochs;
    p.loss = result.loss;
    p.grad_norm = std::numeric_limits<double>::quiet_NaN();
    const std::string stop = monitor.step(p, x);
    if (!stop.empty()) result.message = stop;
    if (!stop.empty()) break;
  }
  keep_state();
  monitor.restore_best(x);
  return result;
}

}  // namespace

OptimResult sgd(const BatchObjective& f, std::size_t n, std::span<double> x,
                const StochasticOptions& o, const ProgressCallback& progress,
                const ValidationLoss& validation) {
  return run(Method::sgd, f, n, x, o, progress, validation);
}

OptimResult adam(const BatchObjective& f, std::size_t n, std::span<double> x,
                 const StochasticOptions& o, const ProgressCallback& progress,
                 const ValidationLoss& validation) {
  return run(Method::adam, f, n, x, o, progress, validation);
}

}  // namespace softreg
