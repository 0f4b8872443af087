// nkisim: the interpreter of one NeuronCore (one program of a launch).
//
// Per-core state: SBUF, PSUM, engine accumulators, counters. HBM is shared by the cores of a launch
// through the allocations themselves. Every instruction takes the same path:
//   run(op): validate(op) -> execute(op) -> observers
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nkisim/memory.hpp"
#include "nkisim/op.hpp"
#include "nkisim/target.hpp"

namespace nkisim {

// Sees every executed instruction (trace recorder, cost model, op-graph recorder).
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_op(OpKind kind, const OpBase& op, const Interpreter& in) = 0;
};

class Interpreter {
 public:
  explicit Interpreter(const Target& target, int core_id = 0, int num_cores = 1);

  const Target& target() const { return target_; }
  int core_id() const { return core_id_; }
  int num_cores() const { return num_cores_; }
  Memory& sbuf() { return sbuf_; }
  Memory& psum() { return psum_; }

  // Allocate an on-chip tensor in this core's SBUF or PSUM.
  Tensor allocate(Buffer b, const std::vector<int64_t>& shape, DType dtype, const std::string& name,
                  std::optional<std::pair<int64_t, int64_t>> address = std::nullopt);

  template <class O>
  void run(O& op) {
    validate(op, *this);
    execute(op, *this);
    ++counts_[static_cast<int>(OpKindOf<O>::value)];
    if (!observers_.empty()) notify(OpKindOf<O>::value, op);
    if (!uninit_notice_.empty()) raise_notice();
  }

  void add_observer(std::shared_ptr<Observer> o) { observers_.push_back(std::move(o)); }
  // Ready for a new launch: counters and engine state cleared. On-chip memory is reused as is
  // (fresh allocations are sentinel-filled anyway); returns false if tensors are still alive.
  bool reset();
  uint64_t instruction_count() const;
  uint64_t instruction_count(OpKind k) const { return counts_[static_cast<int>(k)]; }

  // Scalar-engine accumulators (activation reduce_cmd), one fp32 per partition lane.
  std::array<float, 128> scalar_acc{};

  // Reads of on-chip tensors that no instruction has written: NKI_SIM_UNINIT=off|warn|error.
  enum class UninitPolicy : uint8_t { off, warn, error };
  UninitPolicy uninit_policy() const { return uninit_policy_; }
  // Called by validation for an operand the instruction reads. Under warn the finding is logged
  // (spdlog), or, with notices enabled (the Python bindings), thrown as UninitializedReadNotice
  // after the instruction has executed.
  void report_uninitialized(const std::string& message) const;
  void enable_notices(bool on) { notices_ = on; }

  // The interpreter of the calling thread (set while a program runs).
  static Interpreter* current();
  static void set_current(Interpreter* in);

 private:
  void notify(OpKind k, const OpBase& op);
  [[noreturn]] void raise_notice();
  static UninitPolicy policy_from_env();

  const Target& target_;
  int core_id_;
  int num_cores_;
  Memory sbuf_;
  Memory psum_;
  std::array<uint64_t, kNumOpKinds> counts_{};
  std::vector<std::shared_ptr<Observer>> observers_;
  UninitPolicy uninit_policy_ = UninitPolicy::warn;
  mutable std::string uninit_notice_;
  bool notices_ = false;
};

}  // namespace nkisim
