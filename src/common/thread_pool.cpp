// The worker pool behind parallel_run (thread_pool.hpp).
#include "common/thread_pool.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace softreg::detail {
namespace {

thread_local bool in_job = false;

/// Waits up to kSpin for pred() to hold, checking it in a tight loop: a job that follows the
/// previous one closely (the calls of a training loop, a benchmark) then starts without the
/// tens of microseconds a sleeping thread takes to wake. Returns pred().
constexpr auto kSpin = std::chrono::microseconds(200);

template <class Pred>
bool spin_until(Pred&& pred) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return pred();
  }
}

class Pool {
 public:
  ~Pool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      stop_flag_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& th : threads_) th.join();
  }

  /// Runs the job if the pool is free; returns false (having run nothing) if it is busy.
  bool try_run(int workers, const std::function<void(int)>& work) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (threads_.size() < std::size_t(workers - 1)) {
        const int index = static_cast<int>(threads_.size()) + 1;
        threads_.emplace_back([this, index] { loop(index); });
      }
      job_ = &work;
      job_workers_ = workers;
      pending_.store(workers - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_part(0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void run_part(int t) {
    in_job = true;
    try {
      (*job_)(t);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    in_job = false;
  }

  void loop(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      const auto fresh = [&] {
        return generation_.load(std::memory_order_acquire) != seen ||
               stop_flag_.load(std::memory_order_acquire);
      };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, fresh);
      }
      int workers;
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return;
        seen = generation_.load(std::memory_order_acquire);
        workers = job_workers_;
      }
      if (index >= workers) continue;
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        const std::lock_guard<std::mutex> lock(mutex_);  // no lost wake-up: see try_run
        done_.notify_one();
      }
    }
  }

  std::mutex busy_;  // held for the whole of one job
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;
  int job_workers_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

void run_serially(int workers, const std::function<void(int)>& work) {
  std::exception_ptr error;
  for (int t = 0; t < workers; ++t) {
    try {
      work(t);
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

void parallel_run(int workers, const std::function<void(int)>& work) {
  if (workers <= 1 || in_job || !pool().try_run(workers, work)) run_serially(workers, work);
}

}  // namespace softreg::detail
