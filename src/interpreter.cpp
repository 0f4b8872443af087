#include "nkisim/interpreter.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include <spdlog/spdlog.h>

#include "log.hpp"
#include "nkisim/errors.hpp"
#include "nkisim/launch.hpp"
#include "written.hpp"

namespace nkisim {

namespace {
thread_local Interpreter* g_current __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<uint64_t> g_epoch{1};

std::string buffers_text(unsigned allowed) {
  std::string list;
  auto add = [&](const char* n) { list += list.empty() ? n : std::string(" or ") + n; };
  if (allowed & kSbuf) add("sbuf");
  if (allowed & kPsum) add("psum");
  if (allowed & kHbm) add("hbm");
  return list;
}

std::string engines_text(unsigned mask) {
  std::string list;
  for (int e = 0; e < 8; ++e)
    if (mask & (1u << e)) list += (list.empty() ? "" : ", ") + std::string(engine_name(static_cast<Engine>(e)));
  return list;
}

[[noreturn]] void fail(const InstrDecl& d, std::string_view param, const std::string& rule) {
  std::string m = "nki.isa." + std::string(d.name);
  if (!param.empty()) m += ": " + std::string(param);
  throw ValidationError(m + ": " + rule);
}

}  // namespace

Interpreter::Interpreter(const Target& target, int core_id, int num_cores)
    : target_(target),
      core_id_(core_id),
      num_cores_(num_cores),
      sbuf_(Buffer::sbuf, target.partitions, target.sbuf_bytes_per_partition, 0, core_id),
      psum_(Buffer::psum, target.partitions, target.psum_bytes_per_partition,
            target.psum_bank_bytes, core_id) {
  log_ = instruction_log_if_enabled();
  if (log_) observers_.push_back(log_);
  uninit_policy_ = policy_from_env();
  epoch_ = g_epoch++;
}

Interpreter::~Interpreter() {
  sbuf_.set_free_hook(nullptr);
  psum_.set_free_hook(nullptr);
}

Interpreter::UninitPolicy Interpreter::policy_from_env() {
  const char* v = std::getenv("NKI_SIM_UNINIT");
  const std::string s = v ? v : "warn";
  if (s == "off" || s == "0") return UninitPolicy::off;
  if (s == "error") return UninitPolicy::error;
  return UninitPolicy::warn;
}

void Interpreter::report_uninitialized(const std::string& message) const {
  if (uninit_policy_ == UninitPolicy::error) throw UninitializedReadError(message);
  if (uninit_policy_ != UninitPolicy::warn) return;
  if (!notices_) logger().warn("{}", message);
  else if (uninit_notice_.empty()) uninit_notice_ = message;
}

void Interpreter::raise_notice() {
  std::string m = std::move(uninit_notice_);
  uninit_notice_.clear();
  throw UninitializedReadNotice(m);
}

void Interpreter::raise_race_notice() {
  std::string m = std::move(race_notice_);
  race_notice_.clear();
  throw RaceNotice(m);
}

Tensor Interpreter::allocate(Buffer b, const std::vector<int64_t>& shape, DType dtype,
                             const std::string& name,
                             std::optional<std::pair<int64_t, int64_t>> address,
                             const std::string& site) {
  Memory& m = b == Buffer::psum ? psum_ : sbuf_;
  check_shape(shape, dtype, std::string(buffer_name(b)) + " tensor '" + name + "'");  // no overflow below
  int64_t free_elems = 1;
  for (size_t i = 1; i < shape.size(); ++i) free_elems *= shape[i];
  const int64_t p = shape.empty() ? 1 : shape[0];
  if (p > target_.partitions || p < 1)
    throw AllocationError("cannot allocate " + std::string(buffer_name(b)) + " tensor '" + name +
                          "': partition dimension " + std::to_string(p) + " must be in [1, " +
                          std::to_string(target_.partitions) + "] (nl.tile_size.pmax)");
  auto a = m.allocate(static_cast<int>(p), free_elems * static_cast<int64_t>(size_of(dtype)),
                      dtype, name, address, capacity_policy_ == CapacityPolicy::live_ranges);
  a->pinned = address.has_value();
  a->site = site;
  for (auto& o : observers_) o->on_allocate(*a, core_id_);
  return Tensor(std::move(a), dtype, shape);
}

// ---------------------------------------------------------------- the generic steps of run()
Engine Interpreter::check_common(const InstrDecl& d, const void* op) const {
  const int gen = target_.version();
  if (gen < d.first_gen)
    fail(d, "", "is not available on " + std::string(target_.name) + " (it needs " +
                    std::string(Target::get(static_cast<Gen>(d.first_gen)).name) + " or newer)");
  for (uint8_t i : d.operands) {
    const ParamDecl& p = d.params[i];
    const Tensor* t = tensor_param(op, p);
    if (t == nullptr) continue;
    const unsigned bufs = p.buffers;
    if (!(bufs & (1u << static_cast<int>(t->buffer()))))
      fail(d, p.name, "must be in " + buffers_text(bufs) + ", found a tensor in " +
                          std::string(buffer_name(t->buffer())) + " (" + t->describe() + ")");
    if (t->on_chip() && t->allocation().core != core_id_)
      fail(d, p.name, t->describe() + " lives in the " + std::string(buffer_name(t->buffer())) +
                          " of core " + std::to_string(t->allocation().core) +
                          ", but this instruction runs on core " + std::to_string(core_id_));
    if (writes(p.role) && t->allocation().read_only)
      fail(d, p.name, t->describe() + " wraps a read-only array and cannot be written");
  }
  // Tensors first, then enums (the order of 0.3.0's signatures, so the first rule broken is
  // the one reported).
  Engine engine = static_cast<Engine>(d.default_engine);
  for (uint8_t i : d.enums) {
    const ParamDecl& p = d.params[i];
    const int v = static_cast<int>(InstrDecl::get<uint8_t>(op, p));
    if (enum_member(p.enum_id, v) == nullptr)
      fail(d, p.name, "must be a member of nki.isa." + std::string(enum_decl(p.enum_id).name) +
                          ", found the value " + std::to_string(v));
    if (p.enum_id == EnumId::engine && v != 0) {
      const unsigned allowed = d.engines[gen - 2];
      if (!(allowed & (1u << v)))
        fail(d, p.name,
             allowed ? "runs on " + engines_text(allowed) + " on " + std::string(target_.name) +
                           ", not on the " + std::string(engine_name(static_cast<Engine>(v))) +
                           " engine"
                     : "no engine can be chosen on " + std::string(target_.name));
      // The engine parameter of a DMA names the queue's trigger; the copy runs on a DMA queue.
      if (engine != Engine::dma) engine = static_cast<Engine>(v);
    }
  }
  return engine;
}

void Interpreter::check_read(const InstrDecl& d, const ParamDecl& p, const Tensor& t) {
  std::vector<int64_t> index;
  if (!written::first_unwritten(t, index)) return;
  std::string at = "[";
  for (size_t i = 0; i < index.size(); ++i) at += (i ? ", " : "") + std::to_string(index[i]);
  at += "]";
  const bool none = t.allocation().wstate == Allocation::WriteState::none;
  report_uninitialized(
      "nki.isa." + std::string(d.name) + ": " + std::string(p.name) + ": reads " + t.describe() +
      (none ? ", which no instruction has written yet"
            : " at index " + at + ", an element no instruction has written (the first of the view)") +
      "; fresh memory holds NaN (floats) or 4 (integers). NKI_SIM_UNINIT=error makes this an "
      "error, NKI_SIM_UNINIT=off silences it");
}

void Interpreter::before_execute(const InstrDecl& d, const void* op) {
  const bool check = uninit_policy_ != UninitPolicy::off;
  const int64_t now = 2 * static_cast<int64_t>(tick_++);  // reads at 2i, writes at 2i + 1
  for (uint8_t i : d.operands) {
    const ParamDecl& p = d.params[i];
    if (p.role == Role::none) continue;
    const Tensor* t = tensor_param(op, p);
    if (t == nullptr || !t->on_chip()) continue;
    const Allocation& a = t->allocation();
    if (check && reads(p.role) && a.wstate != Allocation::WriteState::all) check_read(d, p, *t);
    if (writes(p.role) && a.wstate == Allocation::WriteState::none && !t->covers_allocation())
      written::begin_partial(a);
    // Live ranges (capacity): reads (all of them, before any write below) extend the current
    // version of their tensor.
    if (reads(p.role) && !a.pinned) {
      if (a.live_from < 0) a.live_from = now, a.live_from_op = &d;
      a.live_to = now, a.live_to_op = &d;
    }
  }
  // A write that covers the whole tensor starts a new version, other writes extend it.
  for (uint8_t i : d.operands) {
    const ParamDecl& p = d.params[i];
    if (!writes(p.role)) continue;
    const Tensor* t = tensor_param(op, p);
    if (t == nullptr || !t->on_chip() || t->allocation().pinned) continue;
    const Allocation& a = t->allocation();
    // (A version touched by the previous instruction's write or this one's reads just goes on:
    // nothing but a tensor only read at one instruction could use the gap; Memory merges such
    // versions the same way.)
    if (p.role == Role::out && a.live_from >= 0 && a.live_to < now - 1 && t->covers_allocation()) {
      (a.buffer == Buffer::psum ? psum_ : sbuf_).close_version(a);
      a.live_from = -1;
    }
    if (a.live_from < 0) a.live_from = now + 1, a.live_from_op = &d;
    a.live_to = now + 1, a.live_to_op = &d;
  }
}

void Interpreter::check_capacity() {
  const int64_t now = 2 * static_cast<int64_t>(tick_) + 2;
  sbuf_.check_live_ranges(now, true);
  psum_.check_live_ranges(now, true);
}

void Interpreter::after_execute(const InstrDecl& d, const void* op) {
  for (uint8_t i : d.operands) {
    const ParamDecl& p = d.params[i];
    if (!writes(p.role)) continue;
    const Tensor* t = tensor_param(op, p);
    if (t == nullptr || !t->on_chip()) continue;
    const Allocation& a = t->allocation();
    if (a.wstate == Allocation::WriteState::all) continue;
    if (t->covers_allocation()) a.wstate = Allocation::WriteState::all;
    else written::mark(*t);
  }
}

// ---------------------------------------------------------------- events
void Interpreter::add_observer(std::shared_ptr<Observer> o) {
  if (observers_.empty() || (observers_.size() == 1 && log_)) {
    auto hook = [this](const Allocation& a) {
      for (auto& ob : observers_) ob->on_free(a, core_id_);
    };
    sbuf_.set_free_hook(hook);
    psum_.set_free_hook(hook);
  }
  observers_.push_back(std::move(o));
}

void Interpreter::remove_observer(const Observer* o) {
  observers_.erase(std::remove_if(observers_.begin(), observers_.end(),
                                  [o](const auto& p) { return p.get() == o; }),
                   observers_.end());
}

void Interpreter::notify_before(const InstrDecl& d, const OpBase& op, Engine e) {
  const Event ev{d, op, e, *this, seq_};
  for (auto& o : observers_) o->before_instruction(ev);
}

void Interpreter::notify(const InstrDecl& d, const OpBase& op, Engine e) {
  const Event ev{d, op, e, *this, seq_++};
  for (auto& o : observers_) o->on_instruction(ev);
}

Traffic Event::traffic() const {
  Traffic t;
  for (const ParamDecl& p : decl.params) {
    if (p.role == Role::none) continue;
    const Tensor* x = tensor_param(&op, p);
    if (x == nullptr) continue;
    const uint64_t bytes = static_cast<uint64_t>(x->size()) * size_of(x->dtype());
    const int m = static_cast<int>(mem_of(x->buffer()));
    if (reads(p.role)) t.read[m] += bytes;
    if (writes(p.role)) {
      t.written[m] += bytes;
      t.elements += static_cast<uint64_t>(x->size());
    }
  }
  if (t.elements == 0)
    for (const ParamDecl& p : decl.params)
      if (const Tensor* x = reads(p.role) ? tensor_param(&op, p) : nullptr) t.elements += x->size();
  return t;
}

std::string Event::where() const { return core.where(); }

bool Interpreter::reset() {
  if (sbuf_.live_allocations() != 0 || psum_.live_allocations() != 0) return false;
  for (auto& row : counts_) row.fill(0);
  seq_ = 0;
  tick_ = 0;
  sbuf_.clear_live_ranges();
  psum_.clear_live_ranges();
  capacity_policy_ = capacity_policy_from_env();
  scalar_acc.fill(0.f);
  vector_acc.fill(0.f);
  rng_ready = false;  // random numbers (issue 10): fresh default states per launch
  uninit_policy_ = policy_from_env();
  uninit_notice_.clear();
  race_notice_.clear();
  registers_.clear();
  epoch_ = g_epoch++;
  return true;
}

Interpreter::CapacityPolicy Interpreter::capacity_policy_from_env() {
  const char* v = std::getenv("NKI_SIM_CAPACITY");
  if (v != nullptr && std::string_view(v) == "strict") return CapacityPolicy::strict;
  return CapacityPolicy::live_ranges;
}

uint64_t Interpreter::instruction_count() const {
  uint64_t n = 0;
  for (const auto& row : counts_) n += std::accumulate(row.begin(), row.end(), uint64_t{0});
  return n;
}

uint64_t Interpreter::instruction_count(OpKind k) const {
  const auto& row = counts_[static_cast<int>(k)];
  return std::accumulate(row.begin(), row.end(), uint64_t{0});
}

// ---------------------------------------------------------------- registers (issue 9)
RegRef Interpreter::register_alloc(std::optional<int64_t> init) {
  RegRef r;
  r.id = static_cast<int32_t>(registers_.size());
  r.core = core_id_;
  r.epoch = epoch_;
  r.present = true;
  RegSlot s;
  if (init) {
    if (*init < INT32_MIN || *init > UINT32_MAX)
      throw ValidationError("nki.isa.register_alloc: x: registers hold 32-bit values, found " +
                            std::to_string(*init));
    s.value = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(*init)));
    s.written = true;
  }
  registers_.push_back(s);
  return r;
}

const Interpreter::RegSlot& Interpreter::slot_of(const RegRef& r, std::string_view instr,
                                                 std::string_view param) const {
  // (The message prefix is built only on failure: registers are read on every dynamic access.)
  auto at = [&] { return "nki.isa." + std::string(instr) + ": " + std::string(param) + ": "; };
  if (r.core != core_id_)
    throw ValidationError(at() + "the register was allocated by program " + std::to_string(r.core) +
                          " (core " + std::to_string(r.core) + ") but is used on core " +
                          std::to_string(core_id_) + "; registers belong to one core");
  if (r.epoch != epoch_ || r.id < 0 || r.id >= static_cast<int32_t>(registers_.size()))
    throw ValidationError(at() + "the register belongs to an earlier kernel launch");
  return registers_[r.id];
}

int64_t Interpreter::read_register(const RegRef& r, std::string_view instr,
                                   std::string_view param) const {
  if (!r.is_reg()) return r.imm;
  const RegSlot& s = slot_of(r, instr, param);
  if (!s.written)
    throw ValidationError("nki.isa." + std::string(instr) + ": " + std::string(param) +
                          ": reads register #" + std::to_string(r.id) +
                          " before anything was written to it (give register_alloc a value, or "
                          "write it with register_move or register_load first)");
  return s.value;
}

void Interpreter::write_register(const RegRef& r, int64_t v, std::string_view instr,
                                 std::string_view param, bool loop) {
  const RegSlot& s = slot_of(r, instr, param);
  if (s.frozen && !loop)
    throw ValidationError("nki.isa." + std::string(instr) + ": " + std::string(param) +
                          ": register #" + std::to_string(r.id) +
                          " is the induction variable of a running nl.dynamic_range loop, a "
                          "frozen value in NKI 0.3.0; copy it with register_move into another "
                          "register to change it");
  RegSlot& w = registers_[r.id];
  // 32-bit registers: keep the low 32 bits, as a signed value.
  w.value = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  w.written = true;
}

void Interpreter::freeze_register(const RegRef& r, bool frozen) {
  slot_of(r, "dynamic_range", "iterator");
  registers_[r.id].frozen = frozen;
}

Interpreter* Interpreter::current() { return g_current; }
void Interpreter::set_current(Interpreter* in) { g_current = in; }

}  // namespace nkisim
