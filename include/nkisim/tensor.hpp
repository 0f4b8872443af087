// nkisim: tensors are views (access patterns) over an allocation.
//
// A view = allocation + dtype + element offset + dims [(step, count)...], outermost first.
// On-chip (SBUF/PSUM): dims[0] is the partition dim, its step counts partitions and must be 1;
// the other steps count elements inside a partition and `offset` is the element offset inside each
// partition. HBM: every step counts elements of the linear buffer.
// Slicing, integer indexing, .ap(), .reshape(), .view(dtype) and broadcasting only make new views.
// Every view is bounds-checked against its allocation when it is made, so executing an
// instruction never touches memory outside its operands.
#pragma once

#include <array>
#include <initializer_list>
#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "nkisim/dtype.hpp"
#include "nkisim/memory.hpp"
#include "nkisim/register.hpp"

namespace nkisim {

inline constexpr int kMaxDims = 8;

struct Dim {
  int64_t step;
  int64_t count;
};

// One index of a Python-style key: an integer, or a slice start:stop:step (stop exclusive,
// already normalised by the caller except for bounds checks), or "all" (":").
struct IndexItem {
  enum Kind { integer, slice, all, ellipsis } kind;
  int64_t start = 0, stop = 0, step = 1;
};

// A byte-strided layout ready for execution: base address and (count, byte stride) per dim.
struct Strided {
  std::byte* base;
  uint8_t* shadow;  // null when the allocation needs no tracking
  int ndim;
  std::array<int64_t, kMaxDims> count;
  std::array<int64_t, kMaxDims> stride;  // bytes
};

class Tensor;

// A dynamic part of an access pattern (issue 9), resolved when an instruction executes:
//   scalar: the start moves by value x multiplier elements; the value comes from a register or
//           from a single-element integer tensor (.ap(scalar_offset=), t[nl.ds(register, n)]);
//   vector: row w of the view (its first dim) starts at value[w] x multiplier elements, the values
//           being a (P, 1) integer SBUF tensor (.ap(vector_offset=, indirect_dim=0)); gather when
//           read, scatter when written (DMA instructions only).
// The static view (value 0, or one row for vector offsets) is bounds-checked when made; each
// resolved view is checked when the instruction runs (oob_mode decides: error or skip).
struct DynamicOffset {
  std::shared_ptr<const Tensor> scalar_tensor;  // (1, 1) integer tensor, or null
  RegRef scalar_reg;                            // a register (scalar_reg.is_reg()), or none
  std::shared_ptr<const Tensor> vector;         // (P, 1) integer SBUF tensor, or null
  int64_t multiplier = 1;                       // elements per unit of the offset value
  int64_t max_value = -1;                       // nl.ds: values in [0, max_value]; -1: view bounds
  int64_t extent = 0;                           // rows of the indexed dim (for messages)
  bool on_partitions = false;                   // nl.ds on an on-chip partition dim
  int indirect_dim = 0;
  std::string origin;                           // ".ap(scalar_offset=...)" for messages
};
// Throws ValidationError (prefixed with `what`) unless `shape` has 1..kMaxDims dimensions, each
// >= 1, and its byte size in `dtype` fits an int64 (checked, no overflow).
void check_shape(const std::vector<int64_t>& shape, DType dtype, const std::string& what);
// "[128, 512]"
std::string shape_str(const std::vector<int64_t>& shape);

class Tensor {
 public:
  Tensor() = default;
  // A whole allocation viewed with `shape` (row-major, contiguous).
  Tensor(AllocationPtr alloc, DType dtype, const std::vector<int64_t>& shape);

  // --- metadata
  DType dtype() const { return dtype_; }
  Buffer buffer() const { return alloc_->buffer; }
  bool on_chip() const { return is_on_chip(alloc_->buffer); }
  int ndim() const { return ndim_; }
  const Dim& dim(int i) const { return dims_[i]; }
  std::vector<int64_t> shape() const;
  int64_t size() const;                  // elements
  int64_t partitions() const { return ndim_ ? dims_[0].count : 1; }
  int64_t free_size() const;             // elements per partition (product of dims[1:])
  const Allocation& allocation() const { return *alloc_; }
  const AllocationPtr& allocation_ptr() const { return alloc_; }
  const std::string& name() const { return alloc_->name; }
  // Element offset of this view into the base storage flattened row-major (NkiTensor.offset).
  int64_t flat_offset() const;
  // [[step, count], ...] in elements of the base storage flattened row-major (get_pattern()).
  std::vector<std::pair<int64_t, int64_t>> pattern() const;
  // First partition of the view inside the allocation (on-chip).
  int64_t start_partition() const { return part_; }
  bool is_base() const { return is_base_; }
  std::string describe() const;  // "sbuf bfloat16[128, 512] 'name'"

  // The raw layout (for the op-graph recorder): element offset and the dims as they are.
  int64_t element_offset() const { return offset_; }
  // A view rebuilt from a raw layout (bounds-checked against the allocation).
  static Tensor from_layout(AllocationPtr alloc, DType dtype, int64_t start_partition,
                            int64_t element_offset, const std::vector<Dim>& dims, bool is_base);

  // --- views
  Tensor index(const std::vector<IndexItem>& key) const;
  Tensor reshape(const std::vector<int64_t>& shape) const;
  Tensor view_as(DType dtype) const;
  // .ap(pattern, offset, dtype): explicit access pattern over the underlying storage; on a view
  // the view's own layout (shape, steps, offset, dynamic part) is ignored.
  Tensor ap(const std::vector<std::pair<int64_t, int64_t>>& pattern, int64_t offset,
            std::optional<DType> dtype) const;
  // .ap() with a dynamic offset (issue 9): `dyn` carries scalar_offset / vector_offset.
  Tensor ap_dynamic(const std::vector<std::pair<int64_t, int64_t>>& pattern, int64_t offset,
                    std::optional<DType> dtype, DynamicOffset dyn) const;
  // t[..., nl.ds(register, size), ...]: dim `dim` sliced [0, size) and moved by the register.
  Tensor index_dynamic(int dim, const RegRef& reg, int64_t size) const;
  bool is_dynamic() const { return dyn_ != nullptr; }
  const DynamicOffset* dynamic() const { return dyn_.get(); }
  // The static view moved by `value` units (scalar offsets); nullopt if it leaves the tensor.
  std::optional<Tensor> moved(int64_t value) const;
  // oob_mode.skip for scalar offsets: the rows (entries of the first dim) of the moved view that
  // lie inside the tensor, as [first, first + count); nullopt when none (or they are not one run).
  std::optional<Tensor> moved_rows(int64_t value, int64_t* first, int64_t* count) const;
  // Row `row` of a vector-offset view moved to `value` (one row, rank kept); nullopt if outside.
  std::optional<Tensor> indirect_row(int64_t row, int64_t value) const;
  Tensor without_dynamic() const {
    Tensor r = *this;
    r.dyn_.reset();
    return r;
  }

  // Repeat size-1 dims (step 0) up to `shape`; same rank.
  Tensor broadcast_to(const std::vector<int64_t>& shape) const;

  // --- execution
  // The view's layout for execution; on-chip storage gets its sentinel fill first if pending.
  // Why no instruction may use this view, or null. NKI 0.3.0 lets a kernel create an .ap() view
  // that reaches out of bounds, or an empty slice, as long as no instruction uses it.
  const std::string* unusable() const { return unusable_.get(); }

  Strided strided() const;  // throws OutOfBoundsError for an unusable view
  // This view is exactly the whole allocation (writing it overwrites every byte).
  bool covers_allocation() const;
  // Before an instruction overwrites this whole view: skip the pending sentinel fill (unless a
  // source of the same instruction reads the same allocation).
  void claim_for_overwrite(std::initializer_list<const Tensor*> sources) const;
  // The same elements in the same order and dtype (a static view of the same allocation).
  bool same_view(const Tensor& o) const;
  // Elements per partition of the base allocation in this view's dtype.
  int64_t base_free_elements() const;

 private:
  // The view with its scalar offset applied (value x multiplier elements), not bounds-checked;
  // nullopt when the value is out of the offset's range.
  std::optional<Tensor> shifted(int64_t value) const;
  void check_bounds(const char* what) const;
  void check_view_size(const char* what) const;
  bool contiguous_free() const;  // free dims are row-major contiguous from offset
  bool contiguous_all() const;   // whole view row-major contiguous (HBM)

  AllocationPtr alloc_;
  DType dtype_ = DType::float32;
  int ndim_ = 0;
  bool is_base_ = true;  // a whole allocation or a reshape/view of one (recorded in op graphs)
  int64_t part_ = 0;     // first partition (on-chip), relative to the allocation
  int64_t offset_ = 0;   // element offset (on-chip: inside the partition; HBM: linear)
  std::array<Dim, kMaxDims> dims_{};
  std::shared_ptr<const std::string> unusable_;
  std::shared_ptr<const DynamicOffset> dyn_;  // issue 9: resolved at execution
  bool in_bounds() const;
};

}  // namespace nkisim
