// nkisim: one launch of a kernel: the cores (interpreters) of its programs, the HBM they share,
// and the synchronisation between them (core_barrier, sendrecv).
//
// kernel[n] runs n programs, one per core, each on its own host thread (the Python bindings start
// them). The launch owns those cores' interpreters (taken from a pool and given back when it ends),
// matches the k-th shared_hbm allocation of every program (they are one tensor), and is the meeting
// point of the cores: a two-party barrier and the sendrecv mailboxes. Waits never hang:
//   - a program that fails calls fail(): every wait of the other programs is released with a
//     LaunchAbortedError naming the failed program, and their next instruction stops them too;
//   - a program that waits while every other program has ended or is waiting for something that
//     cannot happen gets a ValidationError describing what each program is doing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "nkisim/interpreter.hpp"
#include "nkisim/tensor.hpp"

namespace nkisim {

class RaceDetector;

class Launch {
 public:
  // n programs on `target` (1 <= n <= target.max_lnc; checked by the caller's front end too).
  Launch(const Target& target, int n);
  ~Launch();
  Launch(const Launch&) = delete;
  Launch& operator=(const Launch&) = delete;

  int size() const { return static_cast<int>(cores_.size()); }
  const Target& target() const { return target_; }
  Interpreter& core(int i) { return *cores_.at(i); }
  const std::shared_ptr<Interpreter>& core_ptr(int i) const { return cores_.at(i); }

  // The next shared_hbm allocation of `program`: the k-th one of every program is one tensor
  // (made by the first program that reaches it; the others must ask for the same shape and dtype).
  Tensor shared_hbm(int program, const std::vector<int64_t>& shape, DType dtype,
                    const std::string& name);

  // --- synchronisation (called by the instructions, on the program's thread, GIL released)
  // core_barrier: returns when every program has reached a barrier.
  void barrier(int program, const std::string& where);
  // sendrecv: this program's src goes to program send_to's dst; this program's dst receives
  // program recv_from's src (same pipe). Returns when both transfers of this program are done.
  void sendrecv(int program, const Tensor& src, const Tensor& dst, int send_to, int recv_from,
                int64_t pipe, const std::string& where);

  // --- failures and the end of programs
  // Program `program` failed with `message`: release every wait of the others.
  void fail(int program, const std::string& message);
  // Program `program` returned (or failed): the others no longer wait for it.
  void finish(int program);
  bool aborted() const { return aborted_.load(std::memory_order_relaxed); }
  // Throws LaunchAbortedError for `program` if another program failed.
  void check_running(int program) const;
  // Give the interpreters back to the pool (also done by the destructor).
  void release();

  // --- race detection between the cores (nullptr when off)
  RaceDetector* races() { return races_.get(); }

  // Racing policy from NKI_SIM_RACE: off | warn (default) | error.
  enum class RacePolicy : uint8_t { off, warn, error };

 private:
  enum class State : uint8_t { running, waiting, finished };
  struct Slot {  // one posted sendrecv transfer
    Tensor src;  // a handle: keeps the sender's tile alive even if the sender fails
    bool consumed = false;
    std::string where;
  };
  // Wait (lock held) until ready(); throws on abort or when no program can make progress.
  void wait(std::unique_lock<std::mutex>& lk, int program, const std::string& what,
            std::function<bool()> ready);
  bool stuck(int program) const;
  std::string others_state(int program) const;
  [[noreturn]] void throw_aborted(int program, const std::string& what) const;
  // A program found the launch invalid (mu_ held): every wait ends with `message`, and this
  // program throws it as a ValidationError.
  [[noreturn]] void abort_invalid(int program, const std::string& message);

  const Target& target_;
  std::vector<std::shared_ptr<Interpreter>> cores_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<State> state_;
  std::vector<std::string> waiting_on_;
  std::vector<std::function<bool()>> ready_;
  std::vector<Tensor> shared_;
  std::vector<size_t> next_shared_;
  uint64_t barrier_gen_ = 0;
  int barrier_count_ = 0;
  std::map<std::tuple<int64_t, int, int>, Slot> slots_;  // (pipe, from, to)
  std::atomic<bool> aborted_{false};
  int failed_ = -1;
  std::string failure_;
  std::unique_ptr<RaceDetector> races_;
  bool released_ = false;
};

// The first launch in a process maps and zeroes SBUF's huge pages as its instructions first touch
// them (24+ MiB: 5-40 ms, most of a small kernel's first call). prewarm_start() builds that
// launch's interpreter (one core of `target`) on a background thread, puts it in the interpreter
// pool for the first launch to take, and then faults its SBUF in without touching the contents
// (so the launch may already run); prewarm_wait() joins the thread (before fork and at exit).
// Both are cheap no-ops when there is nothing to do.
void prewarm_start(const Target& target);
void prewarm_wait();
// Whether a launch has taken the prewarmed interpreter (for tests and diagnostics).
bool prewarm_taken();

}  // namespace nkisim
