// nkisim: the op graph, recorded and replayed.
//
// A Recorder is an Observer that writes the executed op stream of a launch to a file: every
// instruction with all its declared parameters (tensors as allocation id + access pattern, never
// host pointers), every on-chip allocation and free, every HBM tensor with its contents when an
// instruction first touches it, and, at finish(), the final contents of every HBM tensor it saw.
// replay() runs such a file on fresh interpreters, without Python, and compares the final HBM
// contents bit for bit. Both are generic over the instruction declarations (ops.def): a new
// instruction needs no code here.
//
// File format (version 1): text lines of space-separated tokens; a data block is a `data` or
// `final` line followed by exactly <bytes> raw bytes and a newline.
//   nkisim-opgraph 1
//   target <trn1|trn2|trn3>
//   core <core> <num_cores>                            first time a core runs an instruction
//   alloc <id> <core> <sbuf|psum> <start_partition> <byte_offset> <partitions> <bytes> <dtype> <name>
//   free <id>
//   hbm <id> <private_hbm|shared_hbm> <bytes> <read_only 0|1> <name>      then a data block:
//   data <id> <bytes>                                  contents at first touch (HBM) / now (on-chip)
//   written <id> <none|some|all>                       on-chip tensors met before their allocation
//   instr <core> <instruction> <label> <param>=<value>...
//   final <id> <bytes>                                 final HBM contents (after the last instr)
//   end <instructions>
// Strings (<name>, <label>) are written as ' followed by the bytes, with %XX for bytes outside
// printable ASCII and for ' ', '%', '='. Values by parameter kind:
//   tensor      @<id>:<dtype>:<start_partition>:<element_offset>:<is_base>:<step>x<count>,...
//   opt_tensor  - | tensor          operand  - | #<double %a> | tensor
//   alu / act / enum_   the member's name          boolean 0|1     opt_bool - | 0 | 1
//   integer     decimal             scalar   f<double %a> | i<double %a>
//   ints / axes (a,b,...)           pattern  (step:num,...)
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "nkisim/observer.hpp"

namespace nkisim {

class Recorder : public Observer {
 public:
  // Opens (truncates) `path`; throws Error if it cannot.
  explicit Recorder(const std::string& path);
  ~Recorder() override;  // finishes if finish() was not called (errors are swallowed there)

  void before_instruction(const Event& e) override;
  void on_instruction(const Event& e) override {}
  void on_allocate(const Allocation& a, int core) override;
  void on_free(const Allocation& a, int core) override;

  // Write the final HBM contents and close the file. Idempotent. Throws Error if anything could
  // not be recorded or written (an unknown parameter kind, a full disk).
  void finish();
  uint64_t instructions() const;
  const std::string& path() const { return path_; }

 private:
  void line(const std::string& s);               // under mu_
  void block(const std::string& head, const std::byte* p, int64_t n, int64_t stride, int rows);
  int64_t touch(const Tensor& t);                // allocation id (recording it if new), under mu_
  void fail(const std::string& m);               // remember the first error

  std::string path_;
  std::FILE* f_ = nullptr;
  mutable std::mutex mu_;
  bool finished_ = false;
  bool target_written_ = false;
  std::string error_;
  uint64_t instructions_ = 0;
  int64_t next_id_ = 0;
  std::map<const Allocation*, int64_t> on_chip_;            // live on-chip allocations
  std::map<const Allocation*, int64_t> hbm_ids_;
  std::vector<std::pair<int64_t, AllocationPtr>> hbm_;      // kept alive for the final contents
  std::set<int> cores_;
};

struct ReplayMismatch {
  int64_t id;               // the allocation id in the file
  std::string name;         // the tensor's name
  int64_t bytes;
  int64_t first_offset;     // first differing byte
};

struct ReplayResult {
  std::string target;
  int cores = 0;
  uint64_t instructions = 0;
  int64_t hbm_tensors = 0;  // HBM tensors compared
  int64_t hbm_bytes = 0;    // bytes compared
  std::vector<ReplayMismatch> mismatches;
  bool bit_exact() const { return mismatches.empty(); }
  // "replayed N instructions on C cores (trn3): M HBM tensors, B bytes, bit-exact"
  std::string summary() const;
};

// Replay a recorded op graph on fresh interpreters and compare the final HBM contents.
// Throws Error naming the line for a malformed or truncated file, and whatever an instruction
// throws (with the line of the instruction prepended).
ReplayResult replay(const std::string& path);

}  // namespace nkisim
