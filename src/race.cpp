#include "race.hpp"

#include <algorithm>

#include "nkisim/errors.hpp"
#include "nkisim/interpreter.hpp"

namespace nkisim {

namespace {
class CoreObserver : public Observer {
 public:
  CoreObserver(RaceDetector& r, int core) : r_(r), core_(core) {}
  void before_instruction(const Event& e) override { r_.check(core_, e); }
  void on_instruction(const Event& e) override { r_.record(core_, e); }

 private:
  RaceDetector& r_;
  int core_;
};

// Every shared-HBM tensor an instruction accesses, with its parameter and role (vector-offset
// views are resolved row by row inside the instruction and not tracked).
template <class F>
void for_shared_operands(const Event& e, F&& f) {
  for (const ParamDecl& p : e.decl.params) {
    if (p.role == Role::none) continue;
    auto visit = [&](const Tensor& t) {
      if (t.buffer() == Buffer::shared_hbm && !t.is_dynamic()) f(p, t);
    };
    switch (p.kind) {
      case Kind::tensor: visit(InstrDecl::get<Tensor>(&e.op, p)); break;
      case Kind::opt_tensor: {
        const auto& o = InstrDecl::get<std::optional<Tensor>>(&e.op, p);
        if (o) visit(*o);
        break;
      }
      case Kind::operand: {
        const auto& o = InstrDecl::get<Operand>(&e.op, p);
        if (o.tile) visit(*o.tile);
        break;
      }
      case Kind::tensors:
        for (const Tensor& t : InstrDecl::get<std::vector<Tensor>>(&e.op, p)) visit(t);
        break;
      default: break;
    }
  }
}

// The byte runs [offset, offset + len) of an HBM view, in row-major order; f returns false to stop.
template <class F>
void for_byte_runs(const Tensor& t, F&& f) {
  const Strided s = t.strided();
  const int64_t es = static_cast<int64_t>(size_of(t.dtype()));
  const int64_t base = s.base - t.allocation().data;
  const int last = s.ndim - 1;
  int64_t idx[kMaxDims] = {};
  int64_t outer = 1;
  for (int d = 0; d < last; ++d) outer *= s.count[d];
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off = base;
    for (int d = 0; d < last; ++d) off += idx[d] * s.stride[d];
    if (s.stride[last] == es) {
      if (!f(off, s.count[last] * es)) return;
    } else {
      for (int64_t i = 0; i < s.count[last]; ++i)
        if (!f(off + i * s.stride[last], es)) return;
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < s.count[d]) break;
      idx[d] = 0;
    }
  }
}
}  // namespace

RaceDetector::RaceDetector(Launch& launch, bool error) : launch_(launch), error_(error) {
  const int n = launch.size();
  seq_.assign(n, 0);
  seen_.assign(n, std::vector<uint64_t>(n, 0));
  for (int c = 0; c < n; ++c) {
    observers_.push_back(std::make_shared<CoreObserver>(*this, c));
    launch.core(c).add_observer(observers_.back());
  }
}

RaceDetector::~RaceDetector() = default;

std::shared_ptr<Observer> RaceDetector::observer_ptr(int core) { return observers_.at(core); }

const RaceDetector::Shadow* RaceDetector::shadow_of(const Allocation& a) const {
  auto it = shadows_.find(&a);  // shadows are created by record(), which has the AllocationPtr
  return it != shadows_.end() ? &it->second : nullptr;
}

void RaceDetector::synchronize_all() {
  std::lock_guard<std::mutex> g(mu_);
  for (size_t c = 0; c < seen_.size(); ++c)
    for (size_t w = 0; w < seen_.size(); ++w) seen_[c][w] = seq_[w];
}

void RaceDetector::synchronize(int from, int to) {
  std::lock_guard<std::mutex> g(mu_);
  seen_[to][from] = seq_[from];
}

void RaceDetector::check(int core, const Event& e) {
  std::string found;  // the race, without this access's kernel line
  {
    std::lock_guard<std::mutex> g(mu_);
    for_shared_operands(e, [&](const ParamDecl& p, const Tensor& t) {
      if (!found.empty()) return;
      const Shadow* sh = shadow_of(t.allocation());
      if (sh == nullptr) return;
      const std::pair<const Allocation*, int> key{&t.allocation(), core};
      if (std::find(reported_.begin(), reported_.end(), key) != reported_.end()) return;
      for_byte_runs(t, [&](int64_t off, int64_t len) {
        for (int64_t b = off; b < off + len; ++b) {
          const uint32_t i = sh->last[static_cast<size_t>(b)];
          if (i == 0) continue;
          const Write& w = writes_[i - 1];
          if (w.core == core || w.seq <= seen_[core][w.core]) continue;
          reported_.push_back(key);
          const int64_t es = static_cast<int64_t>(size_of(t.dtype()));
          found = "nki.isa." + std::string(e.decl.name) + ": " + std::string(p.name) +
                  ": cross-core race on " + t.describe() + ": program " + std::to_string(core) +
                  (writes(p.role) ? (reads(p.role) ? " reads and writes" : " writes")
                                  : " reads") +
                  " element " + std::to_string(b / es) + " (flat), which program " +
                  std::to_string(w.core) + " wrote with nki.isa." + std::string(w.instr) +
                  " (" + std::string(w.param) + ")" +
                  (w.where.empty() ? "" : " at " + w.where) +
                  ", and the two programs have not synchronised since (no core_barrier or "
                  "sendrecv between the write and this access), so the result depends on which "
                  "core runs first. Put nisa.core_barrier(" +
                  (t.name().empty() ? std::string("tensor") : t.name()) +
                  ", (0, 1)) between the write and this access, or let each program touch only "
                  "its own part of the tensor. NKI_SIM_RACE=error makes this an error, "
                  "NKI_SIM_RACE=off silences it";
          return false;
        }
        return true;
      });
    });
  }
  if (found.empty()) return;
  const std::string here = e.where();
  if (!here.empty()) found += "\n  this access: " + here;
  if (error_) throw RaceError(found);
  e.core.report_race(found);
}

void RaceDetector::record(int core, const Event& e) {
  bool any = false;
  for_shared_operands(e, [&](const ParamDecl& p, const Tensor&) { any |= writes(p.role); });
  if (!any) return;
  const std::string where = e.where();  // before locking: it may take the GIL
  std::lock_guard<std::mutex> g(mu_);
  ++seq_[core];
  for_shared_operands(e, [&](const ParamDecl& p, const Tensor& t) {
    if (!writes(p.role)) return;
    writes_.push_back(Write{core, seq_[core], where, e.decl.name, p.name});
    const uint32_t id = static_cast<uint32_t>(writes_.size());
    auto it = shadows_.find(&t.allocation());
    if (it == shadows_.end()) {
      Shadow sh;
      sh.alloc = t.allocation_ptr();
      sh.last.assign(static_cast<size_t>(t.allocation().bytes), 0);
      it = shadows_.emplace(&t.allocation(), std::move(sh)).first;
    }
    uint32_t* last = it->second.last.data();
    for_byte_runs(t, [&](int64_t off, int64_t len) {
      std::fill(last + off, last + off + len, id);
      return true;
    });
  });
}

}  // namespace nkisim
