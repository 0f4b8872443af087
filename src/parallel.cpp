// nkisim internal: split large work across both cores.
#include "parallel.hpp"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace nkisim {
namespace {
// One range of rows split into chunks that the caller and a helper thread claim one at a time.
// The helper touches the caller's function only after claiming a chunk, so the caller never waits
// for a helper that has not started (a busy machine may not schedule it for milliseconds): it
// runs the unclaimed chunks itself and waits only for chunks the helper is running.
struct Job {
  const std::function<void(int64_t, int64_t)>* f = nullptr;
  int64_t nrows = 0, nchunks = 0;
  std::atomic<int64_t> next{0}, finished{0};
  std::exception_ptr err;
  std::mutex err_mu;

  // Run chunks until none is left; false when nothing was claimed.
  bool work() {
    bool any = false;
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_acq_rel)) < nchunks;) {
      any = true;
      try {
        (*f)(c * nrows / nchunks, (c + 1) * nrows / nchunks);
      } catch (...) {
        std::lock_guard<std::mutex> g(err_mu);
        if (!err) err = std::current_exception();
      }
      finished.fetch_add(1, std::memory_order_acq_rel);
    }
    return any;
  }
};

// The helper spins briefly after each job (instructions arrive back to back; a sleeping thread
// takes tens of microseconds to wake), then sleeps.
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
  void offer(std::shared_ptr<Job> job) {
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = std::move(job);
      has_job_.store(true, std::memory_order_release);
    }
    if (sleeping_.load()) cv_.notify_all();
  }

 private:
  static void spin_pause() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  std::shared_ptr<Job> take() {
    std::lock_guard<std::mutex> g(mu_);
    has_job_.store(false, std::memory_order_relaxed);
    return std::move(job_);
  }
  void loop() {
    using clock = std::chrono::steady_clock;
    auto idle_since = clock::now();
    uint64_t spins = 0;
    while (!stop_.load()) {
      if (has_job_.load(std::memory_order_acquire)) {
        if (std::shared_ptr<Job> j = take()) j->work();
        idle_since = clock::now();
        continue;
      }
      if (++spins % 1024 != 0 || clock::now() - idle_since < std::chrono::microseconds(300)) {
        spin_pause();
        continue;
      }
      std::unique_lock<std::mutex> g(mu_);
      sleeping_.store(true);
      cv_.wait(g, [&] { return stop_.load() || job_ != nullptr; });
      sleeping_.store(false);
      idle_since = clock::now();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  std::atomic<bool> has_job_{false}, stop_{false}, sleeping_{false};
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
  auto job = std::make_shared<Job>();
  job->f = &f;
  job->nrows = nrows;
  job->nchunks = std::min<int64_t>(nrows, 8);
  helper().offer(job);
  job->work();
  // Every chunk is claimed; wait only for those the helper is still running.
  while (job->finished.load(std::memory_order_acquire) < job->nchunks) std::this_thread::yield();
  if (job->err) std::rethrow_exception(job->err);
}

}  // namespace nkisim
