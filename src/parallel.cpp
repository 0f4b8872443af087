// nkisim internal: split large work across both cores.
#include "parallel.hpp"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace nkisim {
namespace {
// One helper thread; the caller runs the other half. The helper spins briefly after each job
// (instructions arrive back to back; a sleeping thread takes tens of microseconds to wake), then
// sleeps. A busy helper (the other program of an LNC2 launch is using it) means the caller runs
// everything itself.
class Helper {
 public:
  Helper() : t_([this] { loop(); }) {}
  ~Helper() {
    stop_.store(true);
    {
      std::lock_guard<std::mutex> g(mu_);
    }
    cv_.notify_all();
    t_.join();
  }
  bool try_run(const std::function<void()>* job) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true)) return false;
    done_.store(false, std::memory_order_relaxed);
    job_.store(job, std::memory_order_release);
    if (sleeping_.load()) {
      std::lock_guard<std::mutex> g(mu_);
      cv_.notify_all();
    }
    return true;
  }
  void wait() {
    while (!done_.load(std::memory_order_acquire)) spin_pause();
    busy_.store(false, std::memory_order_release);
  }

 private:
  static void spin_pause() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  void loop() {
    using clock = std::chrono::steady_clock;
    auto idle_since = clock::now();
    uint64_t spins = 0;
    while (!stop_.load()) {
      const std::function<void()>* j = job_.exchange(nullptr, std::memory_order_acq_rel);
      if (j != nullptr) {
        (*j)();
        done_.store(true, std::memory_order_release);
        idle_since = clock::now();
        continue;
      }
      if (++spins % 1024 != 0 || clock::now() - idle_since < std::chrono::microseconds(300)) {
        spin_pause();
        continue;
      }
      std::unique_lock<std::mutex> g(mu_);
      sleeping_.store(true);
      cv_.wait(g, [&] { return stop_.load() || job_.load() != nullptr; });
      sleeping_.store(false);
      idle_since = clock::now();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<const std::function<void()>*> job_{nullptr};
  std::atomic<bool> busy_{false}, done_{true}, stop_{false}, sleeping_{false};
  std::thread t_;
};
Helper& helper() {
  static Helper h;
  return h;
}
}  // namespace

int usable_cpus() {
  static const int n = [] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(std::thread::hardware_concurrency());
  }();
  return n;
}


void parallel_rows(int64_t nrows, int64_t work, const std::function<void(int64_t, int64_t)>& f) {
  (void)work;
  if (usable_cpus() < 2 || nrows < 2) {
    f(0, nrows);
    return;
  }
  const int64_t mid = nrows / 2;
  std::exception_ptr err;
  std::function<void()> job = [&] {
    try {
      f(mid, nrows);
    } catch (...) {
      err = std::current_exception();
    }
  };
  if (!helper().try_run(&job)) {
    f(0, nrows);
    return;
  }
  try {
    f(0, mid);
  } catch (...) {
    helper().wait();
    throw;
  }
  helper().wait();
  if (err) std::rethrow_exception(err);
}

}  // namespace nkisim
