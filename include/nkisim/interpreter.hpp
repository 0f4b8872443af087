// nkisim: the interpreter of one NeuronCore (one program of a launch).
//
// Per-core state: SBUF, PSUM, engine accumulators, counters. HBM is shared by the cores of a launch
// through the allocations themselves. Every instruction takes the same path:
//   run(op): common rules (from the declaration) -> validate(op) -> uninitialized reads ->
//            execute(op) -> written state -> observers
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "nkisim/memory.hpp"
#include "nkisim/observer.hpp"
#include "nkisim/op.hpp"
#include "nkisim/target.hpp"

namespace nkisim {

class Launch;

class Interpreter {
 public:
  explicit Interpreter(const Target& target, int core_id = 0, int num_cores = 1);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  const Target& target() const { return target_; }
  int core_id() const { return core_id_; }
  int num_cores() const { return num_cores_; }
  Memory& sbuf() { return sbuf_; }
  Memory& psum() { return psum_; }

  // Allocate an on-chip tensor in this core's SBUF or PSUM.
  // `site` (the kernel line) names the tensor in capacity reports.
  Tensor allocate(Buffer b, const std::vector<int64_t>& shape, DType dtype, const std::string& name,
                  std::optional<std::pair<int64_t, int64_t>> address = std::nullopt,
                  const std::string& site = "");

  // Capacity (NKI_SIM_CAPACITY, read at construction and reset()): live_ranges (default) checks
  // SBUF and PSUM the way the compiler's allocator needs them, a tensor occupying memory from the
  // instruction that writes it to the last instruction that reads it (Memory::check_live_ranges;
  // tensors that do not fit the map meanwhile get storage of their own); strict fails an
  // allocation as soon as the tensors Python still references do not fit (first fit).
  enum class CapacityPolicy : uint8_t { live_ranges, strict };
  CapacityPolicy capacity_policy() const { return capacity_policy_; }
  // The kernel has ended: throws AllocationError if the live ranges never fit (both spaces).
  void check_capacity();

  // The one path of every instruction: the declaration's common rules, the instruction's own
  // rules, reads of unwritten memory, execution, written state, events.
  template <class O>
  void run(O& op) {
    const InstrDecl& d = decl_of<O>();
    if (launch_ != nullptr) check_launch();
    if (any_dynamic(d, &op)) [[unlikely]] {
      // Dynamic access patterns (issue 9): resolve scalar offsets now, put the views back after.
      DynamicRestore restore;
      if (!resolve_dynamic(d, &op, restore)) return;  // out of bounds under oob_mode.skip
      run_static(d, op);
      return;
    }
    run_static(d, op);
  }

  // A scalar-offset value read for an instruction (register or single-element tensor).
  int64_t dynamic_value(const DynamicOffset& dy, std::string_view instr, std::string_view param) const;
  // oob_mode of an instruction (error when it has none).
  static OobMode oob_mode_of(const InstrDecl& d, const void* op);

 private:
  struct DynamicRestore {
    std::vector<std::pair<Tensor*, Tensor>> saved;
    ~DynamicRestore() {
      for (auto it = saved.rbegin(); it != saved.rend(); ++it) *it->first = std::move(it->second);
    }
  };
  static bool any_dynamic(const InstrDecl& d, void* op);
  bool resolve_dynamic(const InstrDecl& d, void* op, DynamicRestore& restore);

  template <class O>
  void run_static(const InstrDecl& d, O& op) {
    const Engine e = check_common(d, &op);
    validate(op, *this);
    before_execute(d, &op);
    if (!observers_.empty()) notify_before(d, op, e);
    execute(op, *this);
    after_execute(d, &op);
    ++counts_[d.kind][static_cast<int>(e)];
    if (!observers_.empty()) notify(d, op, e);
    if (!uninit_notice_.empty()) raise_notice();
    if (!race_notice_.empty()) raise_race_notice();
  }

 public:

  // Observers see every instruction and on-chip allocation of this core; they stay attached
  // across reset().
  void add_observer(std::shared_ptr<Observer> o);
  void remove_observer(const Observer* o);
  size_t observer_count() const { return observers_.size(); }
  // Where the running instruction was called from (set by the Python bindings).
  void set_locator(std::function<std::string()> f) { locator_ = std::move(f); }
  std::string where() const { return locator_ ? locator_() : std::string(); }

  // Ready for a new launch: counters and engine state cleared. On-chip memory is reused as is
  // (fresh allocations are sentinel-filled anyway); returns false if tensors are still alive.
  bool reset();
  uint64_t instruction_count() const;
  uint64_t instruction_count(OpKind k) const;
  uint64_t instruction_count(OpKind k, Engine e) const {
    return counts_[static_cast<int>(k)][static_cast<int>(e)];
  }

  // Scalar-engine accumulators (activation reduce_cmd), one fp32 per partition lane.
  std::array<float, 128> scalar_acc{};
  // Vector-engine accumulators (exponential, range_select, select_reduce,
  // tensor_scalar_cumulative reduce_cmd), one fp32 per partition lane (issue 7).
  std::array<float, 128> vector_acc{};

  // ---- random numbers (issue 10, src/isa/random.cpp): per-lane generator state of this core.
  // vector[lane]: trn3 = 4 XORWOW states x [x, y, z, w, v, d]; trn1/trn2 = [key, counter lo, hi].
  // gpsimd[lane]: 1 XORWOW state. Initialised lazily (rng_ready) and again after reset().
  std::array<std::array<uint32_t, 24>, 128> rng_vector{};
  std::array<std::array<uint32_t, 6>, 128> rng_gpsimd{};
  bool rng_ready = false;

  // Reads of on-chip tensors that no instruction has written: NKI_SIM_UNINIT=off|warn|error.
  enum class UninitPolicy : uint8_t { off, warn, error };
  UninitPolicy uninit_policy() const { return uninit_policy_; }
  // Under warn a finding is logged (spdlog), or, with notices enabled (the Python bindings), thrown
  // as UninitializedReadNotice after the instruction has executed.
  void report_uninitialized(const std::string& message) const;
  void enable_notices(bool on) { notices_ = on; }

  // ---- the launch this core runs in (issue 9); nullptr outside a Launch
  Launch* launch() const { return launch_; }
  void set_launch(Launch* l) { launch_ = l; }

  // ---- registers (issue 9): the VirtualRegisters of this core, 32-bit values
  struct RegSlot {
    int64_t value = 0;
    bool written = false;
    bool frozen = false;  // a dynamic_range induction variable: read-only
  };
  RegRef register_alloc(std::optional<int64_t> init);
  // The value of a register operand (or the immediate); a clear error naming the instruction and
  // parameter when the register was never written, belongs to another core or an earlier launch.
  int64_t read_register(const RegRef& r, std::string_view instr, std::string_view param) const;
  // loop=true: the dynamic_range loop itself advancing its (frozen) induction variable.
  void write_register(const RegRef& r, int64_t v, std::string_view instr, std::string_view param,
                      bool loop = false);
  void freeze_register(const RegRef& r, bool frozen);
  uint64_t epoch() const { return epoch_; }
  // A cross-core race found by the launch's race detector (warn policy): thrown as RaceNotice
  // after the instruction has executed.
  void report_race(const std::string& message) const {
    if (race_notice_.empty()) race_notice_ = message;
  }

  // The interpreter of the calling thread (set while a program runs).
  static Interpreter* current();
  static void set_current(Interpreter* in);

 private:
  // Generic steps of run(), driven by the declaration (src/interpreter.cpp).
  Engine check_common(const InstrDecl& d, const void* op) const;
  void before_execute(const InstrDecl& d, const void* op);
  void after_execute(const InstrDecl& d, const void* op);
  void check_launch() const;
  const RegSlot& slot_of(const RegRef& r, std::string_view instr, std::string_view param) const;
  void check_read(const InstrDecl& d, const ParamDecl& p, const Tensor& t);
  void notify_before(const InstrDecl& d, const OpBase& op, Engine e);
  void notify(const InstrDecl& d, const OpBase& op, Engine e);
  [[noreturn]] void raise_notice();
  [[noreturn]] void raise_race_notice();
  static UninitPolicy policy_from_env();
  static CapacityPolicy capacity_policy_from_env();

  const Target& target_;
  int core_id_;
  int num_cores_;
  Memory sbuf_;
  Memory psum_;
  std::array<std::array<uint64_t, 8>, kNumOpKinds> counts_{};  // by instruction and engine
  uint64_t seq_ = 0;
  uint64_t tick_ = 0;  // instructions run (live-range times)
  CapacityPolicy capacity_policy_ = capacity_policy_from_env();
  std::vector<std::shared_ptr<Observer>> observers_;
  std::shared_ptr<Observer> log_;
  std::function<std::string()> locator_;
  UninitPolicy uninit_policy_ = UninitPolicy::warn;
  mutable std::string uninit_notice_;
  bool notices_ = false;
  Launch* launch_ = nullptr;
  mutable std::string race_notice_;
  std::vector<RegSlot> registers_;
  uint64_t epoch_ = 0;
};

}  // namespace nkisim
