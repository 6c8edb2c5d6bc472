// Training progress on stderr: a redrawn bar on a terminal, plain log lines otherwise.
#pragma once

#include <chrono>

#include "softreg/optim.hpp"

namespace softreg::cli {

class ProgressReporter {
 public:
  /// unit is "iter" or "epoch". quiet prints nothing at all.
  ProgressReporter(const char* unit, bool quiet);
  /// Call from the optimizer's callback; returns true (keep going) unless interrupted.
  bool operator()(const Progress& p);
  /// Ends the bar's line on a terminal.
  void finish();

 private:
  /// "warm-up epoch" for the epochs of L-BFGS's Adam warm-up, else the unit given.
  const char* unit(const Progress& p) const;

  const char* unit_;
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace softreg::cli
