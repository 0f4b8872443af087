#include "nkisim/interpreter.hpp"

#include <cstdlib>
#include <numeric>

#include <spdlog/spdlog.h>

#include "log.hpp"
#include "nkisim/errors.hpp"

namespace nkisim {

namespace {
thread_local Interpreter* g_current = nullptr;

constexpr OpInfo kOpInfo[] = {
#define NKISIM_OP(n, S, e, g) {#n, e, g},
#include "nkisim/ops.def"
#undef NKISIM_OP
};
}  // namespace

const OpInfo& op_info(OpKind k) { return kOpInfo[static_cast<int>(k)]; }

Interpreter::Interpreter(const Target& target, int core_id, int num_cores)
    : target_(target),
      core_id_(core_id),
      num_cores_(num_cores),
      sbuf_(Buffer::sbuf, target.partitions, target.sbuf_bytes_per_partition, 0, core_id),
      psum_(Buffer::psum, target.partitions, target.psum_bytes_per_partition,
            target.psum_bank_bytes, core_id) {
  if (auto log = instruction_log_if_enabled()) observers_.push_back(std::move(log));
  uninit_policy_ = policy_from_env();
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

Tensor Interpreter::allocate(Buffer b, const std::vector<int64_t>& shape, DType dtype,
                             const std::string& name,
                             std::optional<std::pair<int64_t, int64_t>> address) {
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
                      dtype, name, address);
  return Tensor(std::move(a), dtype, shape);
}

bool Interpreter::reset() {
  if (sbuf_.live_allocations() != 0 || psum_.live_allocations() != 0) return false;
  counts_.fill(0);
  scalar_acc.fill(0.f);
  observers_.clear();
  if (auto log = instruction_log_if_enabled()) observers_.push_back(std::move(log));
  uninit_policy_ = policy_from_env();
  uninit_notice_.clear();
  return true;
}

uint64_t Interpreter::instruction_count() const {
  return std::accumulate(counts_.begin(), counts_.end(), uint64_t{0});
}

void Interpreter::notify(OpKind k, const OpBase& op) {
  for (auto& o : observers_) o->on_op(k, op, *this);
}

Interpreter* Interpreter::current() { return g_current; }
void Interpreter::set_current(Interpreter* in) { g_current = in; }

}  // namespace nkisim
