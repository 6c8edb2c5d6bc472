// What every optimizer does after an iteration: validation, early stopping, the progress callback.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/optim.hpp"

namespace softreg::detail {

/// The full-batch optimizers' stopping words and rules, in one place.
inline constexpr const char* kStoppedByCaller = "stopped by the caller";
inline constexpr const char* kSmallDecrease = "relative decrease of the objective below tolerance";
inline constexpr const char* kPrecisionLimit =
    "at the precision limit of the objective (the predicted decrease is below its resolution)";

/// Whether f fell from f_old by at most rel_tol of the larger of |f|, |f_old| and 1.
inline bool small_decrease(double f_old, double f, double rel_tol) {
  return f_old - f <= rel_tol * std::max({std::fabs(f), std::fabs(f_old), 1.0});
}

/// Whether a decrease of `predicted` is below what f's values can show (resolution relative).
inline bool below_resolution(double predicted, double f, double resolution) {
  return predicted <= resolution * std::max(std::fabs(f), 1.0);
}

class IterationMonitor {
 public:
  IterationMonitor(const ProgressCallback& progress, const ValidationLoss& validation, int patience)
      : progress_(progress), validation_(validation), patience_(patience) {}

  /// Reports one iteration at x: fills p.valid_loss, tracks the best validated x, and calls the
  /// callback. Returns why to stop, or an empty string to go on.
  std::string step(Progress p, std::span<const double> x) {
    std::string stop;
    if (validation_) {
      p.valid_loss = validation_(x);
      if (p.valid_loss < best_) {
        best_ = p.valid_loss;
        best_x_.assign(x.begin(), x.end());
        since_best_ = 0;
      } else if (patience_ > 0 && ++since_best_ >= patience_) {
        stop = "validation loss stopped improving (early stopping)";
      }
    }
    // Early stopping wins over the caller: the run is complete either way, not resumable.
    if (progress_ && !progress_(p) && stop.empty()) stop = kStoppedByCaller;
    return stop;
  }

  /// Keeps early stopping's memory and x (where the run is, before restore_best) in st, for a
  /// resume; nothing without validation.
  void save(std::span<const double> x, EarlyStoppingState& st) const {
    if (!validation_) return;
    st.best = best_;
    st.best_x = best_x_;
    st.since_best = since_best_;
    st.x.assign(x.begin(), x.end());
  }

  /// Continues the early stopping that st kept; x becomes the point the run stopped at. The
  /// state must come from a run with validation exactly when this one has it.
  void resume(const EarlyStoppingState& st, std::span<double> x, const char* caller) {
    const bool fits = st.x.empty() ? !validation_
                                   : validation_ && st.x.size() == x.size() &&
                                         (st.best_x.empty() || st.best_x.size() == x.size());
    if (!fits) {
      throw InvalidArgument(std::string(caller) +
                            ": the state to resume does not fit (its early stopping state and "
                            "the validation function go together, over these parameters)");
    }
    if (!validation_) return;
    best_ = st.best;
    best_x_ = st.best_x;
    since_best_ = st.since_best;
    std::copy(st.x.begin(), st.x.end(), x.begin());
  }

  /// With early stopping on, puts the best validated x back; returns whether x changed.
  bool restore_best(std::span<double> x) const {
    if (!validation_ || patience_ <= 0 || best_x_.empty()) return false;
    std::copy(best_x_.begin(), best_x_.end(), x.begin());
    return true;
  }

 private:
  const ProgressCallback& progress_;
  const ValidationLoss& validation_;
  int patience_;
  double best_ = std::numeric_limits<double>::infinity();
  std::vector<double> best_x_;
  int since_best_ = 0;
};

}  // namespace softreg::detail
