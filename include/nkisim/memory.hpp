// nkisim: address spaces and allocations.
//
// HBM is byte-addressed; every HBM tensor is one allocation (kernel arguments wrap the caller's
// buffer without copying). SBUF and PSUM are `partitions x bytes_per_partition` spaces owned by one
// core; every on-chip tensor is a rectangle (start partition, byte offset, partitions, bytes per
// partition) placed by the allocator, which enforces capacity, honours `address=` and frees the
// rectangle when the last handle to the allocation dies.
//
// Fresh allocations hold sentinels (NaN for float dtypes, 4 for integer dtypes). On-chip
// allocations also know what has been written, per byte (Allocation::wstate and the shadow map
// `written`): the interpreter updates it from the operands an instruction writes and checks the
// operands it reads against it (exact uninitialized-read reports); PSUM accumulation
// (accumulate=None) is decided from it per element.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nkisim/dtype.hpp"

namespace nkisim {

// The nki.language buffers (MemoryRegion). `hbm` is an alias of private_hbm on the Python side.
enum class Buffer : uint8_t { sbuf = 0, psum = 1, private_hbm = 2, shared_hbm = 3 };
std::string_view buffer_name(Buffer b);
inline bool is_hbm(Buffer b) { return b == Buffer::private_hbm || b == Buffer::shared_hbm; }
inline bool is_on_chip(Buffer b) { return !is_hbm(b); }

class Memory;
struct SpaceState;  // an on-chip space's storage and live rectangles, shared with its allocations
struct InstrDecl;
struct RangeLabel;  // how a capacity report names a tensor

// Host memory for simulated storage (64-byte aligned; huge pages when large). Large buffers go
// back to a small cache when released, so that kernels launched in a loop reuse memory that is
// already mapped instead of faulting in (and zeroing) fresh pages every launch.
struct HostRelease {
  size_t bytes = 0;
  void operator()(std::byte* p) const;
};
using HostBuffer = std::unique_ptr<std::byte[], HostRelease>;
// Throws HostMemoryError naming `what` and the size when the host cannot provide the memory.
HostBuffer host_alloc(size_t bytes, bool huge_pages, const std::string& what = "simulated memory");

// Simulator-owned HBM is limited per process, so that a kernel asking for more than the machine
// has gets an NkiAllocationError instead of the kernel's OOM killer. Default: half the physical
// memory; NKI_SIM_HBM_LIMIT=<bytes> (read at each allocation) overrides it.
int64_t hbm_limit_bytes();
int64_t hbm_used_bytes();

// One tensor's storage. Immutable placement; shared by every view of the tensor.
struct Allocation {
  Buffer buffer = Buffer::private_hbm;
  std::byte* data = nullptr;     // host address of (start_partition, byte_offset); HBM: first byte
  uint8_t* written = nullptr;    // on-chip: shadow with the same layout as data (1 = written)
  // What has been written: nothing (the shadow is not even cleared yet), some bytes (the shadow
  // says which), or every byte (the shadow is stale). HBM: always all.
  enum class WriteState : uint8_t { none, some, all };
  mutable WriteState wstate = WriteState::all;
  int64_t partition_stride = 0;  // host bytes between partitions (on-chip); HBM: 0
  int start_partition = 0;       // on-chip placement
  int num_partitions = 1;
  int64_t byte_offset = 0;       // on-chip: address within each partition
  int64_t bytes = 0;             // on-chip: bytes per partition; HBM: total bytes
  int core = -1;                 // owning core for on-chip allocations
  bool read_only = false;        // a caller's read-only array
  // On-chip allocations get their sentinels lazily: filled before the first access, unless the
  // first access is an instruction that overwrites the whole tensor (then no fill is needed).
  mutable bool unfilled = false;
  DType fill_dtype = DType::float32;
  void ensure_filled() const;
  std::string name;
  std::string site;              // on-chip: the kernel line that allocated it (for reports)
  // Capacity by live ranges (auto-placed on-chip tensors, see Memory::check_live_ranges): the
  // current version of the contents lives from live_from to live_to, in half-instruction times
  // of the owning core (a read by instruction i is 2i, a write 2i+1); -1 = not touched yet. An
  // instruction that overwrites the whole tensor starts a new version.
  mutable int64_t live_from = -1, live_to = -1;
  mutable const InstrDecl* live_from_op = nullptr;
  mutable const InstrDecl* live_to_op = nullptr;
  mutable std::shared_ptr<const RangeLabel> range_label;  // made at its first closed range
  mutable size_t last_range = 0;        // its latest closed range (valid while the space's
  mutable uint64_t last_range_gen = 0;  // range generation is last_range_gen)
  bool pinned = false;           // placed with address=: the kernel owns the address map
  bool outside = false;          // stored outside the space's map (the map was full)
  // Rows in a host buffer of its own (`owned`, `own_shadow`) instead of the space's map: auto-placed
  // SBUF tiles (see Memory) and outside allocations. The address map is the same either way.
  bool own_rows = false;
  std::unique_ptr<uint8_t[]> own_shadow;  // the written-state shadow of an own_rows allocation
  int64_t heap_off = -1, heap_len = 0;   // own_rows from the space's tile heap: where
  std::shared_ptr<SpaceState> space;     // on-chip: keeps the storage alive, takes the rectangle back
  std::shared_ptr<void> keepalive;       // HBM: owned storage or the caller's array
  HostBuffer owned;                      // HBM allocations made by a kernel
  int64_t hbm_charged = 0;               // bytes counted against the HBM limit (given back here)

  Allocation() = default;
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;
  ~Allocation();
};
using AllocationPtr = std::shared_ptr<Allocation>;

// Fill a fresh region with the dtype's sentinel (NaN bit pattern or integer 4).
void fill_sentinel(DType t, std::byte* p, int64_t bytes);

// Make an HBM allocation owned by the simulator (sentinel-filled). Throws AllocationError when
// `bytes` is not positive or exceeds the HBM limit, HostMemoryError when the host is out of memory.
AllocationPtr make_hbm(Buffer b, int64_t bytes, DType sentinel_dtype, std::string name);
// Wrap a caller's buffer without copying; `keepalive` holds it alive while views exist.
AllocationPtr wrap_hbm(Buffer b, void* data, int64_t bytes, bool read_only,
                       std::shared_ptr<void> keepalive, std::string name);

// An on-chip address space (one SBUF or one PSUM of one core).
class Memory {
 public:
  Memory(Buffer kind, int partitions, int64_t bytes_per_partition, int64_t bank_bytes, int core);
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  // Allocate `partitions x bytes` (bytes per partition). `address` = (start partition, byte
  // offset) pins the placement; otherwise first fit from partition 0.
  //
  // Host layout: a tile placed by address= lives in the space's map (partition p at p x
  // host_stride(), so overlapping placements alias). An auto-placed SBUF tile (first fit) gets
  // rows of its own instead, partition after partition (a [128, 64] fp32 tile is one 32 KiB
  // block, a [128, 1] column 512 bytes: the CPU caches hold whole tiles instead of one line per
  // partition; from the space's tile heap, see host_bytes()). Its rectangle in the address map is
  // the same; if an address= placement later
  // overlaps it, its rows move into the map first, so aliases always share bytes.
  // NKI_SIM_SBUF_STORAGE=map (read when the space is made) keeps every tile in the map (the
  // fuzzer's guard-byte checks see every write there). Throws AllocationError
  // naming the tensor, the request and what is free (any int64 request is checked without
  // overflow). PSUM tiles that fit a bank never straddle one. A failure changes nothing.
  //
  // outside_when_full: when no free rectangle is left, the tensor gets storage of its own outside
  // the map instead of an error (byte_offset 0, start partition 0): tiles that Python still
  // references may be dead for the compiler, which frees a tile after its last use. Capacity is
  // then checked by live ranges (check_live_ranges). Outside storage is bounded (8 times the
  // space); past that the allocation fails as above.
  AllocationPtr allocate(int partitions, int64_t bytes, DType dtype, const std::string& name,
                         std::optional<std::pair<int64_t, int64_t>> address,
                         bool outside_when_full = false);

  // Storage outside the map (as when the map is full), e.g. to replay a recorded placement.
  AllocationPtr allocate_outside(int partitions, int64_t bytes, DType dtype, const std::string& name);

  // ---- capacity by live ranges (what the compiler's allocator needs: every tile from the
  // instruction that writes it to the last instruction that reads it)
  // The current version of `a` ends (it is about to be overwritten whole): keep its range.
  void close_version(const Allocation& a);
  // Throws AllocationError when, at some instruction, the live ranges of the auto-placed tensors
  // need more bytes per partition than the space has; names that instruction and the tensors.
  // `final` (the kernel has ended): the open versions of live tensors end at their last use.
  // Otherwise (called while running) the check covers what is known so far and then forgets the
  // ranges that can no longer overlap anything new.
  void check_live_ranges(int64_t now, bool final);
  void clear_live_ranges();
  size_t live_range_count() const;
  // The range count at which the space checks and compacts while running (default 1M; tests).
  void set_live_range_compaction(size_t n);

  Buffer kind() const { return kind_; }
  int partitions() const { return partitions_; }
  int64_t bytes_per_partition() const { return bytes_pp_; }
  int64_t used_bytes() const;  // per partition, summed over live rectangles' extents (diagnostics)
  size_t live_allocations() const;
  int core() const { return core_; }
  // Called (on any thread) when an allocation of this space is released.
  void set_free_hook(std::function<void(const Allocation&)> f);
  // The whole host storage: partitions() rows of host_stride() bytes (bytes_per_partition() used,
  // the rest padding). For checkers such as the fuzzer's guard bytes; keep storage_owner() alive
  // while using it.
  std::byte* host_data() const;
  int64_t host_stride() const { return host_stride_; }
  std::shared_ptr<void> storage_owner() const;
  // Bytes of host storage from host_data(): the map, then the tile heap (tiles with rows of their
  // own). The prewarm faults all of it in.
  int64_t host_bytes() const { return host_bytes_; }

 private:
  Buffer kind_;
  int partitions_;
  int64_t bytes_pp_;
  int64_t bank_bytes_;
  int core_;
  int64_t host_stride_;  // bytes_pp_ padded so partitions do not alias in the CPU caches
  int64_t host_bytes_ = 0;
  bool own_rows_;        // auto-placed tiles get rows of their own (SBUF, unless NKI_SIM_SBUF_STORAGE=map)
  std::shared_ptr<SpaceState> state_;
  AllocationPtr outside_locked(int partitions, int64_t bytes, DType dtype, const std::string& name);
  // Under the space's lock: move a tile's own rows into the map at its rectangle.
  void rows_into_map(Allocation& a, int p0, int64_t off);
};

}  // namespace nkisim
