#include "nkisim/launch.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <sys/mman.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL
#endif

#include "isa/common.hpp"
#include "nkisim/checked.hpp"
#include "nkisim/errors.hpp"
#include "race.hpp"

namespace nkisim {

namespace {
// Idle interpreters by (target, core, cores), reused across launches (SBUF stays mapped).
struct Pool {
  std::mutex mu;
  std::map<std::tuple<int, int, int>, std::vector<std::shared_ptr<Interpreter>>> idle;
};
Pool& pool() {
  static Pool* p = new Pool();  // lives for the process
  return *p;
}

bool prewarming(const Target& t);
void wait_prewarm_ready();
void note_taken(const Interpreter* in);

std::shared_ptr<Interpreter> from_pool(const Target& t, int core, int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.mu);
  auto& v = p.idle[{t.version(), core, n}];
  while (!v.empty()) {
    auto in = std::move(v.back());
    v.pop_back();
    if (in->reset()) {  // no tensor of an earlier launch is alive in its memory
      note_taken(in.get());
      return in;
    }
  }
  return nullptr;
}

std::shared_ptr<Interpreter> acquire(const Target& t, int core, int n) {
  if (auto in = from_pool(t, core, n)) return in;
  // The interpreter being prewarmed is this one: it is in the pool within a moment (its pages
  // are faulted in meanwhile), which is cheaper than making and faulting a second one.
  if (core == 0 && n == 1 && prewarming(t)) {
    wait_prewarm_ready();
    if (auto in = from_pool(t, core, n)) return in;
  }
  return std::make_shared<Interpreter>(t, core, n);
}

void give_back(std::shared_ptr<Interpreter> in) {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.mu);
  auto& v = p.idle[{in->target().version(), in->core_id(), in->num_cores()}];
  if (v.size() < 2) v.push_back(std::move(in));
}

struct Prewarm {
  std::mutex mu;
  std::thread thread;
  bool started = false;
  std::atomic<const Interpreter*> made{nullptr};  // the prewarmed interpreter
  std::atomic<bool> ready{false};                 // it is in the pool (or never will be)
  std::atomic<bool> taken{false};                 // a launch got it
  std::atomic<bool> running{false};
  const Target* target = nullptr;
};
Prewarm& prewarm_state() {
  static Prewarm* p = new Prewarm();  // lives for the process
  return *p;
}

Launch::RacePolicy race_policy_from_env() {
  const char* v = std::getenv("NKI_SIM_RACE");
  const std::string s = v ? v : "warn";
  if (s == "off" || s == "0") return Launch::RacePolicy::off;
  if (s == "error") return Launch::RacePolicy::error;
  return Launch::RacePolicy::warn;
}
}  // namespace

Launch::Launch(const Target& target, int n) : target_(target) {
  if (n < 1 || n > target.max_lnc)
    throw ValidationError("kernel[" + std::to_string(n) + "]: " + std::string(target.name) +
                          " supports LNC degree 1 to " + std::to_string(target.max_lnc) +
                          (target.max_lnc < 2 ? " (LNC=2 needs trn2 or trn3: set "
                                                "NEURON_PLATFORM_TARGET_OVERRIDE)"
                                              : ""));
  for (int i = 0; i < n; ++i) {
    cores_.push_back(acquire(target, i, n));
    cores_.back()->set_launch(this);
  }
  state_.assign(n, State::running);
  waiting_on_.assign(n, "");
  ready_.assign(n, nullptr);
  next_shared_.assign(n, 0);
  if (n > 1) {
    const RacePolicy rp = race_policy_from_env();
    if (rp != RacePolicy::off) races_ = std::make_unique<RaceDetector>(*this, rp == RacePolicy::error);
  }
}

Launch::~Launch() { release(); }

void Launch::release() {
  if (released_) return;
  released_ = true;
  for (auto& c : cores_) {
    if (races_) c->remove_observer(races_->observer(c->core_id()));  // NOLINT
    c->set_launch(nullptr);
    give_back(c);
  }
}

Tensor Launch::shared_hbm(int program, const std::vector<int64_t>& shape, DType dtype,
                          const std::string& name) {
  check_shape(shape, dtype, "nl.ndarray(buffer=nl.shared_hbm, name='" + name + "')");
  std::lock_guard<std::mutex> g(mu_);
  const size_t k = next_shared_.at(program)++;
  if (k < shared_.size()) {
    const Tensor& t = shared_[k];
    if (t.shape() != shape || t.dtype() != dtype)
      throw ValidationError(
          "nl.ndarray: shared_hbm allocation #" + std::to_string(k) + " ('" + name + "') is " +
          std::string(nkisim::name(dtype)) + shape_str(shape) + " in program " +
          std::to_string(program) + " but " + std::string(nkisim::name(t.dtype())) +
          shape_str(t.shape()) + " in another program; every program of a launch must allocate "
          "the same shared tensors in the same order");
    return t;
  }
  // (The shape passed check_shape when the program allocated it: the product fits an int64.)
  shared_.emplace_back(make_hbm(Buffer::shared_hbm,
                                *checked_product(shape) * static_cast<int64_t>(size_of(dtype)),
                                dtype, name),
                       dtype, shape);
  return shared_.back();
}

// ---------------------------------------------------------------- waiting
bool Launch::stuck(int program) const {
  for (int q = 0; q < size(); ++q) {
    if (q == program) continue;
    if (state_[q] == State::running) return false;
    if (state_[q] == State::waiting && ready_[q] && ready_[q]()) return false;
  }
  return true;
}

std::string Launch::others_state(int program) const {
  std::string s;
  for (int q = 0; q < size(); ++q) {
    if (q == program) continue;
    s += "; program " + std::to_string(q) + " ";
    s += state_[q] == State::finished ? std::string("has ended")
                                      : "is waiting in " + waiting_on_[q];
  }
  return s;
}

void Launch::throw_aborted(int program, const std::string& what) const {
  std::string first = failure_.substr(0, failure_.find('\n'));
  throw LaunchAbortedError("kernel[" + std::to_string(size()) + "]: program " +
                           std::to_string(failed_) + " failed (" + first + "), so program " +
                           std::to_string(program) + " was stopped" +
                           (what.empty() ? "" : " in " + what));
}

void Launch::check_running(int program) const {
  if (!aborted()) return;
  std::lock_guard<std::mutex> g(mu_);
  throw_aborted(program, "");
}

void Launch::wait(std::unique_lock<std::mutex>& lk, int program, const std::string& what,
                  std::function<bool()> ready) {
  state_[program] = State::waiting;
  waiting_on_[program] = what;
  ready_[program] = ready;
  cv_.notify_all();
  struct Reset {
    Launch& l;
    int p;
    ~Reset() {
      l.state_[p] = State::running;
      l.ready_[p] = nullptr;
    }
  } reset{*this, program};
  while (aborted_ || !ready()) {
    if (aborted_) throw_aborted(program, what);
    if (stuck(program)) {
      const std::string m = what + ": program " + std::to_string(program) +
                            " would wait forever" + others_state(program) +
                            ". Every program of kernel[" + std::to_string(size()) +
                            "] must reach the same core_barrier and sendrecv calls in the same order";
      abort_invalid(program, m);
    }
    cv_.wait(lk);
  }
}

void Launch::barrier(int program, const std::string& where) {
  std::unique_lock<std::mutex> lk(mu_);
  if (aborted_) throw_aborted(program, "nki.isa.core_barrier");
  const uint64_t gen = barrier_gen_;
  if (++barrier_count_ == size()) {
    barrier_count_ = 0;
    ++barrier_gen_;
    if (races_) races_->synchronize_all();
    cv_.notify_all();
    return;
  }
  wait(lk, program, "nki.isa.core_barrier" + (where.empty() ? "" : " at " + where),
       [this, gen] { return barrier_gen_ != gen; });
}

void Launch::sendrecv(int program, const Tensor& src, const Tensor& dst, int send_to, int recv_from,
                      int64_t pipe, const std::string& where) {
  const std::string what = "nki.isa.sendrecv(send_to_rank=" + std::to_string(send_to) +
                           ", recv_from_rank=" + std::to_string(recv_from) + ", pipe_id=" +
                           std::to_string(pipe) + ")" + (where.empty() ? "" : " at " + where);
  std::unique_lock<std::mutex> lk(mu_);
  if (aborted_) throw_aborted(program, what);
  const auto mine = std::make_tuple(pipe, program, send_to);
  const auto theirs = std::make_tuple(pipe, recv_from, program);
  if (slots_.count(mine))
    throw ValidationError(what + ": program " + std::to_string(program) +
                          " already has a transfer to program " + std::to_string(send_to) +
                          " pending on this pipe");
  slots_[mine] = Slot{src, false, where};
  cv_.notify_all();
  struct Unpost {  // on an error, withdraw this program's transfer
    Launch& l;
    std::tuple<int64_t, int, int> key;
    bool done = false;
    ~Unpost() {
      if (!done) l.slots_.erase(key);
    }
  } unpost{*this, mine};
  // Receive: wait for the peer's next transfer, then copy its src into this dst. A consumed slot
  // is the peer's previous transfer, which it has not withdrawn yet (it is about to return from
  // that call): it must not be taken again.
  wait(lk, program, what, [this, theirs] {
    const auto it = slots_.find(theirs);
    return it != slots_.end() && !it->second.consumed;
  });
  Slot& in = slots_[theirs];
  const Tensor& peer = in.src;
  if (peer.dtype() != dst.dtype() || peer.partitions() != dst.partitions() ||
      peer.free_size() != dst.free_size()) {
    const std::string m =
        what + ": dst: program " + std::to_string(program) + " receives into " + dst.describe() +
        " but program " + std::to_string(recv_from) + " sends " + peer.describe() +
        "; sendrecv needs the same dtype, partitions and elements per partition on both sides";
    abort_invalid(program, m);
  }
  {
    DmaCopyOp copy;
    copy.dst = dst;
    copy.src = peer;
    execute(copy, core(program));
  }
  if (races_) races_->synchronize(recv_from, program);
  in.consumed = true;
  cv_.notify_all();
  // Send: wait until the peer has taken this program's src.
  wait(lk, program, what, [this, mine] { return slots_.at(mine).consumed; });
  unpost.done = true;
  slots_.erase(mine);
}

// ---------------------------------------------------------------- failures and ends
void Launch::abort_invalid(int program, const std::string& message) {
  aborted_ = true;
  failed_ = program;
  failure_ = "ValidationError: " + message;
  cv_.notify_all();
  throw ValidationError(message);
}

void Launch::fail(int program, const std::string& message) {
  std::lock_guard<std::mutex> g(mu_);
  if (!aborted_) {
    aborted_ = true;
    failed_ = program;
    failure_ = message;
  }
  cv_.notify_all();
}

void Launch::finish(int program) {
  std::lock_guard<std::mutex> g(mu_);
  state_.at(program) = State::finished;
  cv_.notify_all();
}

// ---------------------------------------------------------------- Interpreter hooks
void Interpreter::check_launch() const { launch_->check_running(core_id_); }

void prewarm_start(const Target& target) {
  Prewarm& p = prewarm_state();
  std::lock_guard<std::mutex> g(p.mu);
  if (p.started) return;  // once per process
  p.started = true;
  p.target = &target;
  p.running = true;
  p.thread = std::thread([&target, &p] {
    try {
      auto in = std::make_shared<Interpreter>(target, 0, 1);
      Memory& m = in->sbuf();
      const std::shared_ptr<void> keep = m.storage_owner();  // alive while populating
      std::byte* base = m.host_data();
      const int64_t bytes = m.host_bytes();
      p.made = in.get();
      give_back(std::move(in));  // the first launch may take it now and run meanwhile
      p.ready = true;
      // Fault the storage in without touching its contents (MADV_POPULATE_WRITE, Linux 5.14+),
      // 2 MiB at a time: safe while the first launch already writes tiles into it.
      constexpr int64_t kChunk = int64_t{2} << 20;
      for (int64_t off = 0; off < bytes; off += kChunk)
        if (madvise(base + off, static_cast<size_t>(std::min(kChunk, bytes - off)),
                    MADV_POPULATE_WRITE) != 0)
          break;  // not supported here: the first launch faults pages in as before
    } catch (...) {
      // Out of memory or the like: the first launch simply pays the cost itself.
    }
    p.ready = true;
    p.running = false;
  });
}

bool prewarm_taken() { return prewarm_state().taken.load(); }

namespace {
bool prewarming(const Target& t) {
  Prewarm& p = prewarm_state();
  return p.running.load() && p.target != nullptr && p.target->version() == t.version();
}
void wait_prewarm_ready() {
  Prewarm& p = prewarm_state();
  while (!p.ready.load()) std::this_thread::yield();
}
void note_taken(const Interpreter* in) {
  Prewarm& p = prewarm_state();
  if (in != nullptr && in == p.made.load()) p.taken = true;
}
}  // namespace

void prewarm_wait() {
  Prewarm& p = prewarm_state();
  std::lock_guard<std::mutex> g(p.mu);
  if (p.thread.joinable()) p.thread.join();
}

}  // namespace nkisim
