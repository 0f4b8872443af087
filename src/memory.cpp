#include "nkisim/memory.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdlib>
#include <map>
#include <sstream>
#include <unordered_map>
#include <sys/mman.h>
#include <unistd.h>

#include "nkisim/checked.hpp"
#include "nkisim/decl.hpp"
#include "nkisim/errors.hpp"
#include "parallel.hpp"

namespace nkisim {

std::string_view buffer_name(Buffer b) {
  switch (b) {
    case Buffer::sbuf: return "sbuf";
    case Buffer::psum: return "psum";
    case Buffer::private_hbm: return "private_hbm";
    case Buffer::shared_hbm: return "shared_hbm";
  }
  return "?";
}

void fill_sentinel(DType t, std::byte* p, int64_t bytes) {
  const size_t es = size_of(t);
  if (is_packed(t)) {
    std::memset(p, 0, bytes);
    return;
  }
  uint32_t pattern = 0;
  if (is_float(t)) {
    switch (t) {
      case DType::float32:
      case DType::tfloat32: pattern = 0x7fc00000u; break;
      case DType::bfloat16: pattern = 0x7fc0u; break;
      case DType::float16: pattern = 0x7e00u; break;
      case DType::float8_e4m3: pattern = 0x7cu; break;   // exponent all ones, mantissa != 0
      case DType::float8_e4m3fn: pattern = 0x7fu; break;
      case DType::float8_e5m2: pattern = 0x7eu; break;
      default: break;
    }
  } else {
    pattern = 4;
  }
  if (es == 1) {
    std::memset(p, static_cast<int>(pattern), bytes);
    return;
  }
  // Replicate the element into a 64-bit word, then store words (vectorized).
  uint64_t word = 0;
  for (size_t i = 0; i < 8; i += es) std::memcpy(reinterpret_cast<std::byte*>(&word) + i, &pattern, es);
  const int64_t words = bytes / 8;
  uint64_t* w = reinterpret_cast<uint64_t*>(p);
  for (int64_t i = 0; i < words; ++i) std::memcpy(w + i, &word, 8);
  std::memcpy(p + words * 8, &word, static_cast<size_t>(bytes - words * 8));
}

namespace {
constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kCacheMin = 2 * kHuge;           // only large buffers are cached
constexpr size_t kCacheMaxBytes = size_t{512} << 20;  // at most 512 MiB kept
constexpr size_t kCacheMaxBuffers = 16;  // 8+ ranks each allocate their outputs (issue 12)

struct HostCache {
  std::mutex mu;
  std::vector<std::pair<size_t, std::byte*>> free;  // (rounded size, buffer)
  size_t bytes = 0;
  ~HostCache() {
    for (auto& [n, p] : free) std::free(p);
  }
};
HostCache& host_cache() {
  static HostCache* c = new HostCache;  // never destroyed: buffers may be released at exit
  return *c;
}
// Rounded up to the alignment; 0 when that does not fit a size_t.
size_t rounded(size_t bytes, bool huge) {
  const size_t align = huge ? kHuge : 64;
  size_t r = 0;
  if (__builtin_add_overflow(bytes, align - 1, &r)) return 0;
  return r / align * align;
}
}  // namespace

void HostRelease::operator()(std::byte* p) const {
  if (bytes >= kCacheMin) {
    HostCache& c = host_cache();
    std::lock_guard<std::mutex> g(c.mu);
    if (c.free.size() < kCacheMaxBuffers && c.bytes + bytes <= kCacheMaxBytes) {
      c.free.emplace_back(bytes, p);
      c.bytes += bytes;
      return;
    }
  }
  std::free(p);
}

HostBuffer host_alloc(size_t bytes, bool huge_pages, const std::string& what) {
  // Huge pages for large buffers, as numpy does for its own: far fewer page faults and TLB misses.
  const bool huge = huge_pages && bytes >= kCacheMin;
  const size_t total = rounded(bytes, huge);
  auto fail = [&] {
    return HostMemoryError("out of host memory: cannot reserve " + std::to_string(bytes) +
                           " bytes for " + what);
  };
  if (total == 0) throw fail();
  if (total >= kCacheMin) {
    HostCache& c = host_cache();
    std::lock_guard<std::mutex> g(c.mu);
    for (size_t i = 0; i < c.free.size(); ++i) {
      if (c.free[i].first == total) {
        std::byte* p = c.free[i].second;
        c.bytes -= total;
        c.free.erase(c.free.begin() + static_cast<std::ptrdiff_t>(i));
        return HostBuffer(p, HostRelease{total});
      }
    }
  }
  void* mem = std::aligned_alloc(huge ? kHuge : 64, total);
  if (mem == nullptr) throw fail();
#ifdef MADV_HUGEPAGE
  if (huge) madvise(mem, total, MADV_HUGEPAGE);
#endif
  return HostBuffer(static_cast<std::byte*>(mem), HostRelease{total});
}

struct RangeLabel {  // declared in memory.hpp
  std::string text;  // 'name' (allocated at site)
  std::string site;  // the kernel line of the allocation
};

// One version of a tensor's contents: live from `from` to `to` (half-instruction times).
struct LiveRange {
  int64_t from, to, bytes;
  int np;
  const InstrDecl* from_op;
  const InstrDecl* to_op;
  std::shared_ptr<const RangeLabel> label;
};

struct SpaceState {
  struct Block {
    int p0, np;
    int64_t off, size;
    Allocation* owner;
    bool outside;  // own storage, not in the map
  };
  HostBuffer storage;
  std::unique_ptr<uint8_t[]> shadow;
  std::mutex mu;
  std::vector<Block> live;
  int64_t outside_bytes = 0;  // bytes per partition of the live outside blocks
  // The tile heap: host memory for tiles with rows of their own, in the same storage as the map
  // (after it, so it is faulted in with it and reused across launches) with its shadow after the
  // map's. Free ranges by offset, coalesced; first fit, 64-byte granules.
  std::byte* heap = nullptr;
  uint8_t* heap_shadow = nullptr;
  std::map<int64_t, int64_t> heap_free;

  // Under mu: the offset of n free heap bytes, or -1.
  int64_t heap_take(int64_t n) {
    for (auto it = heap_free.begin(); it != heap_free.end(); ++it) {
      if (it->second < n) continue;
      const int64_t off = it->first, rest = it->second - n;
      heap_free.erase(it);
      if (rest > 0) heap_free.emplace(off + n, rest);
      return off;
    }
    return -1;
  }
  // Under mu: give [off, off + n) back.
  void heap_give(int64_t off, int64_t n) {
    auto next = heap_free.lower_bound(off);
    if (next != heap_free.end() && off + n == next->first) {
      n += next->second;
      next = heap_free.erase(next);
    }
    if (next != heap_free.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == off) {
        prev->second += n;
        return;
      }
    }
    heap_free.emplace_hint(next, off, n);
  }
  std::vector<LiveRange> ranges;  // closed versions (and those of freed tensors)
  size_t compact_at = size_t{1} << 20;
  uint64_t gen = 1;  // changes whenever ranges are erased (Allocation::last_range is stale)
  std::function<void(const Allocation&)> on_free;

  // Under mu.
  static const std::shared_ptr<const RangeLabel>& label_of(const Allocation& a) {
    if (!a.range_label) {
      std::string s = "'" + (a.name.empty() ? std::string("<unnamed>") : a.name) + "'";
      // The site is "file:line in function: source"; the list names file:line only.
      if (!a.site.empty()) s += " (allocated at " + a.site.substr(0, a.site.find(" in ")) + ")";
      a.range_label = std::make_shared<const RangeLabel>(RangeLabel{std::move(s), a.site});
    }
    return a.range_label;
  }
  // Under mu: keep the current version of `a` as a closed range.
  // Versions of one tensor separated by at most one read time (nothing but a tensor that is
  // only ever read there could use the gap) extend its previous range instead: a tile
  // overwritten by every instruction of a loop costs one range, not one per instruction.
  void push_version(const Allocation& a) {
    if (a.pinned || a.live_from < 0) return;
    const int64_t to = std::max(a.live_from, a.live_to);
    if (a.last_range_gen == gen && a.last_range < ranges.size()) {
      LiveRange& r = ranges[a.last_range];
      if (a.live_from <= r.to + 2) {
        if (to > r.to) r.to = to, r.to_op = a.live_to_op;
        return;
      }
    }
    a.last_range = ranges.size();
    a.last_range_gen = gen;
    ranges.push_back(LiveRange{a.live_from, to, a.bytes, a.num_partitions, a.live_from_op,
                               a.live_to_op, label_of(a)});
  }

  void release(const Allocation* a) {
    if (on_free) on_free(*a);
    std::lock_guard<std::mutex> g(mu);
    push_version(*a);
    if (a->heap_off >= 0) heap_give(a->heap_off, a->heap_len);
    for (size_t i = 0; i < live.size(); ++i) {
      if (live[i].owner == a) {
        if (live[i].outside) outside_bytes -= live[i].size;
        live[i] = live.back();
        live.pop_back();
        return;
      }
    }
  }
};

void Allocation::ensure_filled() const {
  if (!unfilled) return;
  for (int p = 0; p < num_partitions; ++p) fill_sentinel(fill_dtype, data + p * partition_stride, bytes);
  unfilled = false;
}

namespace {
std::atomic<int64_t> g_hbm_used{0};
}  // namespace

int64_t hbm_limit_bytes() {
  if (const char* v = std::getenv("NKI_SIM_HBM_LIMIT"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    if (end != v && *end == '\0' && n > 0) return n;
  }
  static const int64_t half_ram = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return int64_t{4} << 30;
    return (Checked(pages) * page).get().value_or(INT64_MAX) / 2;
  }();
  return half_ram;
}

int64_t hbm_used_bytes() { return g_hbm_used.load(); }

Allocation::~Allocation() {
  if (space) space->release(this);
  if (hbm_charged) g_hbm_used.fetch_sub(hbm_charged);
}

AllocationPtr make_hbm(Buffer b, int64_t bytes, DType sentinel_dtype, std::string name) {
  const std::string what = std::string(buffer_name(b)) + " tensor '" +
                           (name.empty() ? std::string("<unnamed>") : name) + "'";
  if (bytes < 1)
    throw AllocationError("cannot allocate " + what + ": its size is " + std::to_string(bytes) +
                          " bytes (must be at least 1)");
  // Reserve the bytes against the limit first (atomically: LNC programs allocate concurrently).
  const int64_t limit = hbm_limit_bytes();
  int64_t used = g_hbm_used.load();
  do {
    if (bytes > limit - used) {
      std::ostringstream m;
      m << "cannot allocate " << what << " of " << bytes << " bytes: the simulated HBM holds at "
        << "most " << limit << " bytes (half of this machine's memory; NKI_SIM_HBM_LIMIT sets "
        << "it) and " << used << " bytes are in use";
      throw AllocationError(m.str());
    }
  } while (!g_hbm_used.compare_exchange_weak(used, used + bytes));
  auto a = std::make_shared<Allocation>();
  a->hbm_charged = bytes;  // from here on, the destructor gives the bytes back
  a->buffer = b;
  a->owned = host_alloc(static_cast<size_t>(bytes), true, what);  // not zeroed
  a->data = a->owned.get();
  a->bytes = bytes;
  a->name = std::move(name);
  // Fill (and fault in) large buffers from both cores, in element-aligned chunks.
  const int64_t chunk = int64_t{1} << 22, es = static_cast<int64_t>(size_of(sentinel_dtype));
  const int64_t chunks = (bytes + chunk - 1) / chunk;
  parallel_rows(chunks, bytes, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t off = c * chunk, n = std::min(chunk, bytes - off);
      fill_sentinel(sentinel_dtype, a->data + off, n / es * es);
    }
  });
  return a;
}

AllocationPtr wrap_hbm(Buffer b, void* data, int64_t bytes, bool read_only,
                       std::shared_ptr<void> keepalive, std::string name) {
  auto a = std::make_shared<Allocation>();
  a->buffer = b;
  a->data = static_cast<std::byte*>(data);
  a->bytes = bytes;
  a->read_only = read_only;
  a->keepalive = std::move(keepalive);
  a->name = std::move(name);
  return a;
}

namespace {
// Pad the host stride of a partition so that 128 partitions do not map onto the same cache sets
// (the architectural sizes are multiples of large powers of two).
int64_t padded_stride(int64_t bytes_pp) {
  const int64_t line = 64;
  int64_t s = (bytes_pp + line - 1) / line * line;
  return s + 3 * line;
}

// The host row stride of a tile with rows of its own: packed (4-byte aligned) when short, so a
// small tile is one dense block; padded like the space when long, so that a column walk over a
// power-of-two row size does not land every partition on the same cache sets.
int64_t own_stride(int64_t bytes) { return bytes >= 2048 ? padded_stride(bytes) : (bytes + 3) / 4 * 4; }

// Give `a` (made by new_onchip with own_stride) host rows of its own: from the space's tile heap
// when it has room (under the space's lock), else a buffer and shadow of its own.
void give_own_rows(SpaceState& st, Allocation& a, const std::string& what) {
  const int64_t n = a.partition_stride * a.num_partitions;
  a.own_rows = true;
  if (st.heap != nullptr) {
    const int64_t len = (n + 63) / 64 * 64;
    if (const int64_t off = st.heap_take(len); off >= 0) {
      a.heap_off = off;
      a.heap_len = len;
      a.data = st.heap + off;
      a.written = st.heap_shadow + off;  // cleared by the first partial write
      return;
    }
  }
  try {
    a.owned = host_alloc(static_cast<size_t>(n), true, what);
    a.own_shadow.reset(new uint8_t[static_cast<size_t>(n)]);  // cleared by the first partial write
  } catch (...) {
    a.space.reset();  // never placed: its destructor must not give a rectangle back (and lock)
    throw;
  }
  a.data = a.owned.get();
  a.written = a.own_shadow.get();
}

// Place `a` in the space's map storage at (p0, off): partition p at p x stride, like the address map.
void place_in_map(const SpaceState& st, int64_t stride, Allocation& a, int p0, int64_t off) {
  const int64_t at = static_cast<int64_t>(p0) * stride + off;
  a.data = st.storage.get() + at;
  a.written = st.shadow.get() + at;
  a.partition_stride = stride;
}

// An on-chip allocation's common fields: nothing written yet (the shadow is cleared by the first
// partial write), sentinels filled lazily. The caller sets the placement and the storage.
std::shared_ptr<Allocation> new_onchip(Buffer kind, int core, const std::string& name, int np,
                                       int64_t bytes, int64_t stride, DType dtype,
                                       const std::shared_ptr<SpaceState>& space) {
  auto a = std::make_shared<Allocation>();
  a->buffer = kind;
  a->partition_stride = stride;
  a->num_partitions = np;
  a->bytes = bytes;
  a->core = core;
  a->name = name;
  a->wstate = Allocation::WriteState::none;
  a->space = space;
  a->unfilled = true;
  a->fill_dtype = dtype;
  return a;
}
}  // namespace

Memory::Memory(Buffer kind, int partitions, int64_t bytes_per_partition, int64_t bank_bytes,
               int core)
    : kind_(kind),
      partitions_(partitions),
      bytes_pp_(bytes_per_partition),
      bank_bytes_(bank_bytes),
      core_(core),
      host_stride_(padded_stride(bytes_per_partition)),
      own_rows_(kind == Buffer::sbuf && [] {
        const char* v = std::getenv("NKI_SIM_SBUF_STORAGE");
        return v == nullptr || std::string_view(v) != "map";
      }()) {
  // Huge pages: an instruction touches one line per partition, 128 pages apart with 4 KiB pages.
  // Untouched pages stay unmapped until a tensor lands on them: no upfront cost.
  state_ = std::make_shared<SpaceState>();
  const int64_t map = host_stride_ * partitions_, heap = own_rows_ ? map : 0;
  state_->storage = host_alloc(static_cast<size_t>(map + heap), true, std::string(buffer_name(kind)));
  state_->shadow.reset(new uint8_t[static_cast<size_t>(map + heap)]);  // not touched yet
  if (heap > 0) {
    state_->heap = state_->storage.get() + map;
    state_->heap_shadow = state_->shadow.get() + map;
    state_->heap_free.emplace(0, heap);
  }
  host_bytes_ = map + heap;
}

Memory::~Memory() = default;

void Memory::set_free_hook(std::function<void(const Allocation&)> f) { state_->on_free = std::move(f); }
std::byte* Memory::host_data() const { return state_->storage.get(); }
std::shared_ptr<void> Memory::storage_owner() const { return state_; }

int64_t Memory::used_bytes() const {
  std::lock_guard<std::mutex> g(state_->mu);
  int64_t s = 0;
  for (const auto& b : state_->live) s += b.size * b.np;
  return s;
}

size_t Memory::live_allocations() const {
  std::lock_guard<std::mutex> g(state_->mu);
  return state_->live.size();
}

namespace {
// The live rectangles by address, for capacity errors: name, partitions, bytes [from, to).
void describe_live(std::ostream& m, const std::vector<SpaceState::Block>& live) {
  std::vector<const SpaceState::Block*> v;
  for (const auto& b : live) v.push_back(&b);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) {
    return a->off != b->off ? a->off < b->off : a->p0 < b->p0;
  });
  m << ". Live tensors by address:";
  const size_t shown = std::min<size_t>(v.size(), 40);
  for (size_t i = 0; i < shown; ++i) {
    const auto& b = *v[i];
    const std::string& n = b.owner->name;
    m << "\n  '" << (n.empty() ? std::string("<unnamed>") : n) << "' partitions [" << b.p0 << ", "
      << b.p0 + b.np << ") bytes [" << b.off << ", " << b.off + b.size << ") = " << b.size;
    if (b.outside) m << " (outside the map)";
  }
  if (shown < v.size()) m << "\n  ... and " << v.size() - shown << " more";
}
}  // namespace

AllocationPtr Memory::allocate(int np, int64_t bytes, DType dtype, const std::string& name,
                               std::optional<std::pair<int64_t, int64_t>> address,
                               bool outside_when_full) {
  const std::string what = std::string(buffer_name(kind_)) + " tensor '" +
                           (name.empty() ? std::string("<unnamed>") : name) + "'";
  if (np < 1 || np > partitions_) {
    std::ostringstream m;
    m << "cannot allocate " << what << ": partition dimension " << np << " must be in [1, "
      << partitions_ << "]";
    throw AllocationError(m.str());
  }
  if (bytes < 1) bytes = 1;
  if (bytes > bytes_pp_) {
    std::ostringstream m;
    m << "cannot allocate " << what << ": " << bytes << " bytes per partition exceed the "
      << buffer_name(kind_) << " partition size of " << bytes_pp_ << " bytes";
    throw AllocationError(m.str());
  }
  if (address) {
    // Checked in int64 before anything is narrowed: (2**32 - 1, 0) is not partition -1.
    const int64_t ap = address->first, aoff = address->second;
    const Checked p_end = Checked(ap) + np, b_end = Checked(aoff) + bytes;
    if (ap < 0 || !p_end.within(0, partitions_) || aoff < 0 || !b_end.within(0, bytes_pp_)) {
      std::ostringstream m;
      auto end = [](const Checked& c) {
        return c.ok() ? std::to_string(c.value()) : std::string("2**63 or more");
      };
      m << "cannot place " << what << " at address=(" << ap << ", " << aoff
        << "): it needs partitions [" << ap << ", " << end(p_end) << ") and bytes [" << aoff
        << ", " << end(b_end) << ") but " << buffer_name(kind_) << " has " << partitions_
        << " partitions of " << bytes_pp_ << " bytes";
      throw AllocationError(m.str());
    }
  }
  std::lock_guard<std::mutex> g(state_->mu);
  auto& live_ = state_->live;
  using Block = SpaceState::Block;
  auto overlaps = [&](int p0, int64_t off) {
    for (const auto& b : live_) {
      if (b.outside) continue;
      if (p0 < b.p0 + b.np && b.p0 < p0 + np && off < b.off + b.size && b.off < off + bytes)
        return &b;
    }
    return static_cast<const Block*>(nullptr);
  };
  int p0 = 0;
  int64_t off = 0;
  if (address) {
    p0 = static_cast<int>(address->first);  // in [0, partitions_) (checked above)
    off = address->second;
    // Explicit placements may alias on purpose (the kernel owns the address map), so they are
    // checked against the space's bounds only. Tensors they overlap get their pending sentinel
    // fill now, so that a late fill can never clobber data written through the alias.
    // A tile with rows of its own moves them into the map first, so that the alias sees them.
    for (const auto& b : live_)
      if (!b.outside && p0 < b.p0 + b.np && b.p0 < p0 + np && off < b.off + b.size && b.off < off + bytes) {
        b.owner->ensure_filled();
        if (b.owner->own_rows) rows_into_map(*b.owner, b.p0, b.off);
      }
  } else {
    // First fit: candidate offsets are 0 and the ends of live blocks, lowest first.
    // Candidates start at 4-byte boundaries (the PSUM minimum alignment; it also keeps float32
    // tensors element-aligned in host memory).
    std::vector<int64_t> cands{0};
    for (const auto& b : live_)
      if (!b.outside) cands.push_back((b.off + b.size + 3) / 4 * 4);
    std::sort(cands.begin(), cands.end());
    bool found = false;
    for (int64_t c : cands) {
      if (kind_ == Buffer::psum && bank_bytes_ > 0) {
        // A tile that fits a bank stays inside one; a larger one starts on a bank boundary.
        const bool straddles = c / bank_bytes_ != (c + bytes - 1) / bank_bytes_;
        if ((bytes <= bank_bytes_ && straddles) || (bytes > bank_bytes_ && c % bank_bytes_ != 0))
          c = (c + bank_bytes_ - 1) / bank_bytes_ * bank_bytes_;
      }
      if (c + bytes > bytes_pp_) continue;
      if (overlaps(0, c) == nullptr) {
        off = c;
        found = true;
        break;
      }
    }
    if (!found && outside_when_full && state_->outside_bytes + bytes <= 8 * bytes_pp_) {
      return outside_locked(np, bytes, dtype, name);
    }
    if (!found) {
      int64_t used = 0;
      for (const auto& b : live_) used += b.size;
      std::ostringstream m;
      m << "cannot allocate " << what << " of " << np << " partitions x " << bytes
        << " bytes: " << buffer_name(kind_) << " is full (" << bytes_pp_
        << " bytes per partition, " << live_.size() << " live tensors holding " << used
        << " bytes per partition). Free tiles earlier or use smaller tiles";
      describe_live(m, live_);
      throw AllocationError(m.str());
    }
  }
  const bool own = own_rows_ && !address;
  auto a = new_onchip(kind_, core_, name, np, bytes, own ? own_stride(bytes) : host_stride_, dtype, state_);
  a->start_partition = p0;
  a->byte_offset = off;
  if (own) {
    give_own_rows(*state_, *a, what);
  } else {
    place_in_map(*state_, host_stride_, *a, p0, off);
  }
  if (address) a->ensure_filled();  // aliases see each other's writes from the start
  live_.push_back(Block{p0, np, off, bytes, a.get(), false});
  return a;
}

}  // namespace nkisim

namespace nkisim {

AllocationPtr Memory::allocate_outside(int np, int64_t bytes, DType dtype, const std::string& name) {
  std::lock_guard<std::mutex> g(state_->mu);
  return outside_locked(np, std::max<int64_t>(bytes, 1), dtype, name);
}

AllocationPtr Memory::outside_locked(int np, int64_t bytes, DType dtype, const std::string& name) {
  // Storage of its own: whether the kernel fits is decided by live ranges.
  const std::string what = std::string(buffer_name(kind_)) + " tensor '" +
                           (name.empty() ? std::string("<unnamed>") : name) + "'";
  auto a = new_onchip(kind_, core_, name, np, bytes, own_stride(bytes), dtype, state_);
  give_own_rows(*state_, *a, what);
  a->outside = true;
  state_->live.push_back(SpaceState::Block{0, np, 0, bytes, a.get(), true});
  state_->outside_bytes += bytes;
  return a;
}

void Memory::rows_into_map(Allocation& a, int p0, int64_t off) {
  const std::byte* data = a.data;
  const uint8_t* written = a.written;
  const int64_t stride = a.partition_stride;
  place_in_map(*state_, host_stride_, a, p0, off);
  const size_t n = static_cast<size_t>(a.bytes);
  const bool shadow = a.wstate == Allocation::WriteState::some;  // else the shadow is not read
  for (int64_t p = 0; p < a.num_partitions; ++p) {
    std::memcpy(a.data + p * host_stride_, data + p * stride, n);
    if (shadow) std::memcpy(a.written + p * host_stride_, written + p * stride, n);
  }
  a.own_rows = false;
  // The old rows stay reserved until the tile dies (its heap range is given back then, `owned`
  // freed): a numpy view made of the tile before (Tensor._numpy) never points at freed or reused
  // memory.
}

void Memory::close_version(const Allocation& a) {
  std::unique_lock<std::mutex> g(state_->mu);
  state_->push_version(a);
  if (state_->ranges.size() < state_->compact_at) return;
  // Bounded work and memory: check what is known so far, forget what can no longer overlap
  // anything new; when little could be forgotten (a long-lived tensor), check less often.
  g.unlock();
  check_live_ranges(a.live_to + 1, false);
  g.lock();
  constexpr size_t kMaxRanges = size_t{4} << 20;
  if (state_->ranges.size() * 2 < state_->compact_at) return;
  if (state_->compact_at < kMaxRanges) {
    state_->compact_at *= 2;
    return;
  }
  // Still full (a tensor live since the start keeps every range relevant): forget the older
  // half, already checked above with what was known. An overflow that needs a range forgotten
  // here and a later extension of a long-lived one can go unreported (kernels of millions of
  // instructions only).
  auto& v = state_->ranges;
  std::vector<int64_t> ends;
  ends.reserve(v.size());
  for (const auto& r : v) ends.push_back(r.to);
  std::nth_element(ends.begin(), ends.begin() + ends.size() / 2, ends.end());
  const int64_t median = ends[ends.size() / 2];
  v.erase(std::remove_if(v.begin(), v.end(), [&](const LiveRange& r) { return r.to < median; }),
          v.end());
  ++state_->gen;
}

void Memory::clear_live_ranges() {
  std::lock_guard<std::mutex> g(state_->mu);
  state_->ranges.clear();
  state_->ranges.shrink_to_fit();
  state_->compact_at = size_t{1} << 20;
  ++state_->gen;
}

void Memory::set_live_range_compaction(size_t n) {
  std::lock_guard<std::mutex> g(state_->mu);
  state_->compact_at = std::max<size_t>(n, 2);
}

size_t Memory::live_range_count() const {
  std::lock_guard<std::mutex> g(state_->mu);
  return state_->ranges.size();
}

void Memory::check_live_ranges(int64_t now, bool final) {
  std::vector<LiveRange> rs;
  int64_t horizon = now;  // every range that can still grow or start begins at or after this
  {
    std::lock_guard<std::mutex> g(state_->mu);
    rs = state_->ranges;
    for (const auto& b : state_->live) {
      const Allocation& a = *b.owner;
      if (a.pinned || a.live_from < 0) continue;
      horizon = std::min(horizon, a.live_from);
      rs.push_back(LiveRange{a.live_from, std::max(a.live_from, a.live_to), a.bytes,
                             a.num_partitions, a.live_from_op, a.live_to_op, state_->label_of(a)});
    }
  }
  std::vector<std::pair<int64_t, int64_t>> ev;
  ev.reserve(rs.size() * 2);
  for (const auto& r : rs) {
    ev.emplace_back(r.from, r.bytes);
    ev.emplace_back(r.to + 1, -r.bytes);
  }
  std::sort(ev.begin(), ev.end());  // at equal times, ends before starts
  int64_t cur = 0, peak = 0, at = -1;
  for (const auto& [t, d] : ev) {
    cur += d;
    if (cur > peak) peak = cur, at = t;
  }
  if (peak > bytes_pp_) {
    std::vector<const LiveRange*> live;
    for (const auto& r : rs)
      if (r.from <= at && at <= r.to) live.push_back(&r);
    std::sort(live.begin(), live.end(), [](auto* a, auto* b) {
      return a->bytes != b->bytes ? a->bytes > b->bytes : a->from < b->from;
    });
    auto instr = [](int64_t t, const InstrDecl* d) {
      std::string s = "#" + std::to_string(t / 2);
      if (d != nullptr) s += " (" + std::string(d->name) + ")";
      return s;
    };
    const LiveRange* starter = nullptr;  // the range whose start made the peak
    for (const auto* r : live)
      if (r->from == at) starter = r;
    std::ostringstream m;
    m << buffer_name(kind_) << " capacity exceeded on core " << core_ << ": at instruction "
      << instr(at, starter ? starter->from_op : nullptr) << " the tensors live at once need "
      << peak << " bytes per partition, more than the " << bytes_pp_ << " bytes of a "
      << buffer_name(kind_) << " partition (a tensor is live from the instruction that writes it "
      << "to the last instruction that reads it; a tensor overwritten whole starts again). Live "
      << "tensors (" << live.size() << "), largest first:";
    const size_t shown = std::min<size_t>(live.size(), 40);
    for (size_t i = 0; i < shown; ++i) {
      const LiveRange& r = *live[i];
      m << "\n  " << r.label->text << ": " << r.np << " partitions x " << r.bytes << " bytes, live from "
        << instr(r.from, r.from_op) << " to " << instr(r.to, r.to_op);
    }
    if (shown < live.size()) m << "\n  ... and " << live.size() - shown << " more";
    // The kernel line: where the largest live tensor was allocated.
    if (!live.empty() && !live[0]->label->site.empty()) m << "\n  at " << live[0]->label->site;
    throw AllocationError(m.str());
  }
  if (!final) {
    std::lock_guard<std::mutex> g(state_->mu);
    auto& v = state_->ranges;
    const size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(), [&](const LiveRange& r) { return r.to < horizon; }),
            v.end());
    if (v.size() != before) ++state_->gen;
  }
}

}  // namespace nkisim
