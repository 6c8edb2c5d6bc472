// Progress bar (terminal) or log lines (pipes, files, CI) for training.
#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "common.hpp"

namespace softreg::cli {

ProgressReporter::ProgressReporter(const char* unit, bool quiet)
    : unit_(unit),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

bool ProgressReporter::operator()(const Progress& p) {
  if (quiet_) return true;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta =
      p.iteration > 0 ? elapsed / p.iteration * double(p.max_iterations - p.iteration) : 0.0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "loss %.6f", p.loss);
  std::string stats = buf;
  if (p.accuracy >= 0) {
    std::snprintf(buf, sizeof buf, "  train acc %.4f", p.accuracy);
    stats += buf;
  }
  if (p.valid_loss >= 0) {
    std::snprintf(buf, sizeof buf, "  valid loss %.5f acc %.4f", p.valid_loss, p.valid_accuracy);
    stats += buf;
  }
  if (tty_) {
    const int width = 24;
    const int filled = p.max_iterations > 0 ? width * p.iteration / p.max_iterations : width;
    std::string bar(std::size_t(filled), '#');
    bar.resize(std::size_t(width), '.');
    std::fprintf(stderr, "\r[%s] %s %d/%d  %s  ETA %s   ", bar.c_str(), unit(p), p.iteration,
                 p.max_iterations, stats.c_str(), format_seconds(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
    return true;
  }
  // Plain lines: all of a short run, about twenty of a long one, and always the last.
  const int every = p.max_iterations <= 40 ? 1 : p.max_iterations / 20;
  if (p.iteration == 1 || p.iteration % every == 0 || p.iteration == p.max_iterations) {
    std::fprintf(stderr, "%s %d/%d  %s  elapsed %s\n", unit(p), p.iteration, p.max_iterations,
                 stats.c_str(), format_seconds(elapsed).c_str());
  }
  return true;
}

const char* ProgressReporter::unit(const Progress& p) const {
  return p.warmup ? "warm-up epoch" : unit_;
}

void ProgressReporter::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace softreg::cli
