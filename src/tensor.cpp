#include "nkisim/tensor.hpp"

#include <algorithm>
#include <sstream>

#include "nkisim/checked.hpp"
#include "nkisim/errors.hpp"

namespace nkisim {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

namespace {
// The largest view .ap() or broadcasting may make: per partition on chip (a partition holds at
// most 256 KiB, so more elements can only re-read memory), in total in HBM beyond the size of the
// allocation itself. Keeps every instruction's work (and scratch) bounded.
constexpr int64_t kMaxFreeElements = int64_t{1} << 20;
constexpr int64_t kMaxHbmRepeatElements = int64_t{1} << 26;
}  // namespace

void check_shape(const std::vector<int64_t>& shape, DType dtype, const std::string& what) {
  if (shape.empty() || static_cast<int>(shape.size()) > kMaxDims)
    throw ValidationError(what + ": shape " + shape_str(shape) + " must have 1 to " +
                          std::to_string(kMaxDims) + " dimensions, found " +
                          std::to_string(shape.size()));
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] < 1)
      throw ValidationError(what + ": shape " + shape_str(shape) + " has size " +
                            std::to_string(shape[d]) + " in dimension " + std::to_string(d) +
                            "; every dimension must be >= 1");
  const Checked bytes = Checked(checked_product(shape).value_or(-1)) *
                        static_cast<int64_t>(size_of(dtype));
  if (!checked_product(shape) || !bytes.ok())
    throw ValidationError(what + ": shape " + shape_str(shape) + " of " +
                          std::string(nkisim::name(dtype)) + " holds more than 2**63 - 1 bytes");
}

Tensor::Tensor(AllocationPtr alloc, DType dtype, const std::vector<int64_t>& shape)
    : alloc_(std::move(alloc)), dtype_(dtype) {
  const std::string who = "tensor '" + alloc_->name + "'";
  check_shape(shape, dtype, who);
  // The shape must fit the allocation it views (a C++ caller may pass any pair).
  const int64_t es = static_cast<int64_t>(size_of(dtype));
  const bool fits =
      on_chip() ? shape[0] <= alloc_->num_partitions &&
                      (Checked(*checked_product(shape, 1)) * es).within(0, alloc_->bytes)
                : (Checked(*checked_product(shape)) * es).within(0, alloc_->bytes);
  if (!fits)
    throw ValidationError(who + ": shape " + shape_str(shape) + " of " +
                          std::string(nkisim::name(dtype)) + " does not fit its " +
                          std::string(buffer_name(alloc_->buffer)) + " allocation of " +
                          std::to_string(alloc_->num_partitions) + " x " +
                          std::to_string(alloc_->bytes) + " bytes");
  ndim_ = static_cast<int>(shape.size());
  int64_t step = 1;
  for (int d = ndim_ - 1; d >= 0; --d) {
    dims_[d] = Dim{step, shape[d]};
    step *= shape[d];
  }
  if (on_chip()) dims_[0].step = 1;  // partition dim: one partition per index
}

Tensor Tensor::from_layout(AllocationPtr alloc, DType dtype, int64_t start_partition,
                           int64_t element_offset, const std::vector<Dim>& dims, bool is_base) {
  if (dims.empty() || static_cast<int>(dims.size()) > kMaxDims)
    throw ValidationError("a tensor layout needs 1 to " + std::to_string(kMaxDims) + " dims");
  Tensor t;
  t.alloc_ = std::move(alloc);
  t.dtype_ = dtype;
  t.ndim_ = static_cast<int>(dims.size());
  for (int d = 0; d < t.ndim_; ++d) t.dims_[d] = dims[d];
  t.part_ = start_partition;
  t.offset_ = element_offset;
  t.is_base_ = is_base;
  t.check_bounds("layout");
  return t;
}

std::vector<int64_t> Tensor::shape() const {
  std::vector<int64_t> s(ndim_);
  for (int d = 0; d < ndim_; ++d) s[d] = dims_[d].count;
  return s;
}

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int d = 0; d < ndim_; ++d) n *= dims_[d].count;
  return n;
}

int64_t Tensor::free_size() const {
  int64_t n = 1;
  for (int d = 1; d < ndim_; ++d) n *= dims_[d].count;
  return n;
}

int64_t Tensor::base_free_elements() const {
  return alloc_->bytes / static_cast<int64_t>(size_of(dtype_));
}

int64_t Tensor::flat_offset() const {
  return on_chip() ? part_ * base_free_elements() + offset_ : offset_;
}

std::vector<std::pair<int64_t, int64_t>> Tensor::pattern() const {
  std::vector<std::pair<int64_t, int64_t>> p;
  for (int d = 0; d < ndim_; ++d) {
    int64_t step = dims_[d].step;
    if (d == 0 && on_chip()) step *= base_free_elements();
    p.emplace_back(step, dims_[d].count);
  }
  return p;
}

std::string Tensor::describe() const {
  std::ostringstream o;
  o << buffer_name(buffer()) << " " << nkisim::name(dtype_) << shape_str(shape());
  if (!alloc_->name.empty()) o << " '" << alloc_->name << "'";
  return o.str();
}

void Tensor::check_bounds(const char* what) const {
  Checked lo = offset_, hi = offset_;
  for (int d = on_chip() ? 1 : 0; d < ndim_; ++d) {
    const Checked span = Checked(dims_[d].count - 1) * dims_[d].step;
    if (dims_[d].step < 0) lo += span;
    else hi += span;
  }
  const int64_t es = static_cast<int64_t>(size_of(dtype_));
  const int64_t limit = alloc_->bytes;  // per partition on chip, the whole buffer in HBM
  std::ostringstream m;
  if (!lo.ok() || !hi.ok() || lo.value() < 0 || hi.value() >= limit / es) {
    m << what << " of " << describe() << " reaches ";
    if (lo.ok() && hi.ok()) m << "elements [" << lo.value() << ", " << hi.value() << "]";
    else m << "elements beyond the int64 range";
    m << " of " << (on_chip() ? "each partition, which holds " : "the buffer, which holds ")
      << limit / es << " elements";
    throw OutOfBoundsError(m.str());
  }
  if (on_chip()) {
    const Checked p_last = Checked(part_) + Checked(dims_[0].count - 1) * dims_[0].step;
    if (part_ < 0 || !p_last.within(0, alloc_->num_partitions - 1)) {
      m << what << " of " << describe() << " reaches partitions [" << part_ << ", "
        << (p_last.ok() ? std::to_string(p_last.value()) : std::string("beyond int64"))
        << "] but the tensor has " << alloc_->num_partitions << " partitions";
      throw OutOfBoundsError(m.str());
    }
  }
}

void Tensor::check_view_size(const char* what) const {
  Checked n = 1;
  for (int d = on_chip() ? 1 : 0; d < ndim_; ++d) n *= dims_[d].count;
  const int64_t es = static_cast<int64_t>(size_of(dtype_));
  const int64_t limit = on_chip() ? kMaxFreeElements
                                  : std::max(alloc_->bytes / es, kMaxHbmRepeatElements);
  if (!n.within(1, limit)) {
    std::ostringstream m;
    m << what << " of " << describe() << ": the view addresses "
      << (n.ok() ? std::to_string(n.value()) : std::string("more than 2**63"))
      << (on_chip() ? " elements per partition" : " elements") << "; at most " << limit
      << (on_chip() ? " per partition are allowed (a partition holds far fewer, so larger views "
                      "only repeat elements)"
                    : " are allowed (the tensor's size, or 2**26 for views that repeat elements)");
    throw ValidationError(m.str());
  }
}

Tensor Tensor::index(const std::vector<IndexItem>& key) const {
  int n_explicit = 0, n_ellipsis = 0;
  for (const auto& it : key) {
    if (it.kind == IndexItem::ellipsis) ++n_ellipsis;
    else ++n_explicit;
  }
  if (n_ellipsis > 1) throw ValidationError("an index can only have a single ellipsis ('...')");
  if (n_explicit > ndim_) {
    std::ostringstream m;
    m << "too many indices for " << describe() << ": " << n_explicit << " given, "
      << ndim_ << " dimensions";
    throw OutOfBoundsError(m.str());
  }
  std::vector<IndexItem> full;
  for (const auto& it : key) {
    if (it.kind == IndexItem::ellipsis) {
      for (int i = 0; i < ndim_ - n_explicit; ++i) full.push_back(IndexItem{IndexItem::all});
    } else {
      full.push_back(it);
    }
  }
  while (static_cast<int>(full.size()) < ndim_) full.push_back(IndexItem{IndexItem::all});

  Tensor r = *this;
  r.is_base_ = false;
  r.ndim_ = 0;
  for (int d = 0; d < ndim_; ++d) {
    const Dim& dm = dims_[d];
    const IndexItem& it = full[d];
    const bool part_dim = on_chip() && d == 0;
    auto add_offset = [&](int64_t elems) {
      if (part_dim) r.part_ += elems * dm.step;
      else r.offset_ += elems * dm.step;
    };
    if (it.kind == IndexItem::all) {
      r.dims_[r.ndim_++] = dm;
    } else if (it.kind == IndexItem::integer) {
      int64_t i = it.start < 0 ? it.start + dm.count : it.start;
      if (i < 0 || i >= dm.count) {
        std::ostringstream m;
        m << "index " << it.start << " is out of bounds for dimension " << d << " of "
          << describe() << " (size " << dm.count << ")";
        throw OutOfBoundsError(m.str());
      }
      add_offset(i);
      if (part_dim) r.dims_[r.ndim_++] = Dim{dm.step, 1};  // on-chip keeps its partition dim
    } else {
      if (it.step < 1) {
        std::ostringstream m;
        m << "slice step " << it.step << " on dimension " << d << " of " << describe()
          << " is not supported: steps must be positive";
        throw ValidationError(m.str());
      }
      if (part_dim && it.step != 1) {
        std::ostringstream m;
        m << "slice step " << it.step << " on the partition dimension of " << describe()
          << ": SBUF/PSUM access patterns cannot stride across partitions";
        throw ValidationError(m.str());
      }
      int64_t start = it.start, stop = it.stop;
      if (start < 0) start += dm.count;
      if (stop < 0) stop += dm.count;
      if (start >= 0 && start <= dm.count && stop >= 0 && stop <= start) {
        // An empty slice (e.g. 0:0): a view with no elements, an error only when used.
        std::ostringstream m;
        m << "slice " << it.start << ":" << it.stop << " of dimension " << d << " of "
          << describe() << " (size " << dm.count << ") selects no elements";
        if (!r.unusable_) r.unusable_ = std::make_shared<const std::string>(m.str());
        r.dims_[r.ndim_++] = Dim{dm.step * it.step, 0};
        continue;
      }
      if (start < 0 || stop > dm.count || start >= stop) {
        std::ostringstream m;
        m << "slice " << it.start << ":" << it.stop << " of dimension " << d << " of "
          << describe() << " (size " << dm.count << ") "
          << (start >= stop ? "selects no elements" : "is out of bounds");
        throw OutOfBoundsError(m.str());
      }
      add_offset(start);
      // (stop - start - 1) / step + 1 cannot overflow; a huge step leaves one element.
      const int64_t count = (stop - start - 1) / it.step + 1;
      const Checked step = Checked(dm.step) * it.step;
      r.dims_[r.ndim_++] = Dim{count == 1 ? dm.step : step.value(), count};
    }
  }
  if (r.ndim_ == 0) r.dims_[r.ndim_++] = Dim{1, 1};
  if (on_chip() && r.ndim_ < 2) r.dims_[r.ndim_++] = Dim{1, 1};
  return r;
}

bool Tensor::contiguous_free() const {
  int64_t expect = 1;
  for (int d = ndim_ - 1; d >= 1; --d) {
    if (dims_[d].count != 1 && dims_[d].step != expect) return false;
    expect *= dims_[d].count;
  }
  return true;
}

bool Tensor::contiguous_all() const {
  if (on_chip()) return contiguous_free();
  int64_t expect = 1;
  for (int d = ndim_ - 1; d >= 0; --d) {
    if (dims_[d].count != 1 && dims_[d].step != expect) return false;
    expect *= dims_[d].count;
  }
  return true;
}

Tensor Tensor::reshape(const std::vector<int64_t>& shape_in) const {
  std::vector<int64_t> shape = shape_in;
  int infer = -1;
  Checked known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer < 0) infer = static_cast<int>(i);
    else if (shape[i] < 1)
      throw ValidationError("reshape of " + describe() + " to " + shape_str(shape_in) +
                            ": dimensions must be positive (one -1 may be inferred)");
    else known *= shape[i];
  }
  const int64_t n = size();
  auto mismatch = [&] {
    return ValidationError("cannot reshape " + describe() + " (" + std::to_string(n) +
                           " elements) to " + shape_str(shape_in));
  };
  if (shape.empty() || static_cast<int>(shape.size()) > kMaxDims || !known.within(1, n))
    throw mismatch();
  if (infer >= 0) {
    if (n % known.value() != 0) throw mismatch();
    shape[infer] = n / known.value();
  } else if (known.value() != n) {
    throw mismatch();
  }
  if (on_chip() && shape[0] != dims_[0].count)
    throw ValidationError("reshape of on-chip " + describe() + " to " + shape_str(shape_in) +
                          " must keep the partition dimension " +
                          std::to_string(dims_[0].count));
  if (!contiguous_all())
    throw ValidationError("reshape of " + describe() +
                          " needs a contiguous view; this one is strided (reshape the base "
                          "tensor, then slice)");
  Tensor r = *this;
  r.ndim_ = static_cast<int>(shape.size());
  int64_t step = 1;
  for (int d = r.ndim_ - 1; d >= 0; --d) {
    r.dims_[d] = Dim{step, shape[d]};
    step *= shape[d];
  }
  if (on_chip()) r.dims_[0] = Dim{dims_[0].step, shape[0]};
  return r;
}

Tensor Tensor::view_as(DType t) const {
  const int64_t a = static_cast<int64_t>(size_of(dtype_)), b = static_cast<int64_t>(size_of(t));
  Tensor r = *this;
  r.dtype_ = t;
  if (a == b) return r;
  const Dim& last = dims_[ndim_ - 1];
  const bool last_contig = last.step == 1 && !(on_chip() && ndim_ == 1);
  auto bad = [&](const char* why) {
    return ValidationError("cannot view " + describe() + " as " + std::string(nkisim::name(t)) +
                           ": " + why);
  };
  if (!last_contig) throw bad("a different element size needs a contiguous last dimension");
  if (!(Checked(last.count) * a).ok() || !(Checked(offset_) * a).ok())
    throw bad("the view's byte size does not fit an int64");
  if ((last.count * a) % b != 0 || (offset_ * a) % b != 0)
    throw bad("the last dimension's bytes are not a multiple of the new element size");
  r.offset_ = offset_ * a / b;
  for (int d = on_chip() ? 1 : 0; d < ndim_ - 1; ++d) {
    if (!(Checked(dims_[d].step) * a).ok() || (dims_[d].step * a) % b != 0)
      throw bad("a stride is not a multiple of the new element size");
    r.dims_[d].step = dims_[d].step * a / b;
  }
  r.dims_[ndim_ - 1].count = last.count * a / b;
  return r;
}

Tensor Tensor::ap(const std::vector<std::pair<int64_t, int64_t>>& pattern, int64_t offset,
                  std::optional<DType> dtype) const {
  // On a view (an indexed, sliced, broadcast or .ap() view) the pattern and offset still address
  // the underlying storage: the view's own shape, steps, offset and dynamic part are ignored
  // (0.3.0 accepts this and nki-library's TensorView.get_view relies on it; later SDK docs state
  // the rule: ".ap is not composable", t.slice(...).ap(p) == t.ap(p)).
  if (pattern.empty() || static_cast<int>(pattern.size()) > kMaxDims)
    throw ValidationError(".ap() on " + describe() + ": the pattern needs 1 to " +
                          std::to_string(kMaxDims) + " [step, num] pairs");
  Tensor r = *this;
  r.dyn_.reset();
  r.unusable_.reset();
  if (dtype) r.dtype_ = *dtype;
  r.is_base_ = false;
  r.ndim_ = static_cast<int>(pattern.size());
  // Elements of the whole base storage in the view's dtype: no step can be longer.
  const int64_t es = static_cast<int64_t>(size_of(r.dtype_));
  const int64_t total = on_chip() ? alloc_->bytes / es * alloc_->num_partitions : alloc_->bytes / es;
  if (total < 1)
    throw ValidationError(".ap() on " + describe() + ": it holds " + std::to_string(alloc_->bytes) +
                          " bytes" + (on_chip() ? " per partition" : "") + ", less than one " +
                          std::string(nkisim::name(r.dtype_)) + " element");
  for (int d = 0; d < r.ndim_; ++d) {
    const auto [step, num] = pattern[d];
    if (num < 1)
      throw ValidationError(".ap() on " + describe() + ": pattern entry " + std::to_string(d) +
                            " has num " + std::to_string(num) + " (must be >= 1)");
    if (step < -total || step > total)
      throw OutOfBoundsError(".ap() on " + describe() + ": pattern entry " + std::to_string(d) +
                             " has step " + std::to_string(step) + ", longer than the whole " +
                             "tensor (" + std::to_string(total) + " " +
                             std::string(nkisim::name(r.dtype_)) + " elements)");
    r.dims_[d] = Dim{step, num};
  }
  if (offset < 0)
    throw OutOfBoundsError(".ap() on " + describe() + ": offset " + std::to_string(offset) +
                           " is negative");
  if (on_chip()) {
    const int64_t F = r.base_free_elements();
    if (r.dims_[0].count > 1 && r.dims_[0].step != F)
      throw ValidationError(".ap() on " + describe() + ": the first pair is the partition pair "
                            "and its step must be the free size of a partition (" +
                            std::to_string(F) + " elements), found " +
                            std::to_string(r.dims_[0].step) +
                            "; SBUF/PSUM patterns cannot skip partitions");
    r.part_ = offset / F;
    r.offset_ = offset % F;
    r.dims_[0].step = 1;
  } else {
    r.part_ = 0;
    r.offset_ = offset;
  }
  r.check_view_size(".ap()");
  try {
    r.check_bounds(".ap()");
  } catch (const OutOfBoundsError& e) {  // an error only when an instruction uses the view
    r.unusable_ = std::make_shared<const std::string>(e.what());
  }
  return r;
}

// ---------------------------------------------------------------- dynamic access patterns (issue 9)
bool Tensor::in_bounds() const {
  int64_t lo = offset_, hi = offset_;
  for (int d = on_chip() ? 1 : 0; d < ndim_; ++d) {
    const int64_t span = (dims_[d].count - 1) * dims_[d].step;
    lo += std::min<int64_t>(0, span);
    hi += std::max<int64_t>(0, span);
  }
  const int64_t es = static_cast<int64_t>(size_of(dtype_));
  if (lo < 0 || (hi + 1) * es > alloc_->bytes) return false;
  if (on_chip()) {
    const int64_t p_last = part_ + (dims_[0].count - 1) * dims_[0].step;
    if (part_ < 0 || p_last >= alloc_->num_partitions) return false;
  }
  return true;
}

Tensor Tensor::ap_dynamic(const std::vector<std::pair<int64_t, int64_t>>& pattern, int64_t offset,
                          std::optional<DType> dtype, DynamicOffset dyn) const {
  const std::vector<int64_t> base = shape();
  if (dyn.indirect_dim < 0 || dyn.indirect_dim >= ndim_)
    throw ValidationError(".ap() on " + describe() + ": indirect_dim " +
                          std::to_string(dyn.indirect_dim) + " is not a dimension of the tensor (" +
                          std::to_string(ndim_) + " dimensions)");
  dyn.multiplier = 1;
  for (int d = dyn.indirect_dim + 1; d < ndim_; ++d) dyn.multiplier *= base[d];
  dyn.extent = base[dyn.indirect_dim];
  Tensor r;
  if (dyn.vector) {
    if (dyn.indirect_dim != 0)
      throw ValidationError(".ap() on " + describe() + ": vector_offset needs indirect_dim=0, found " +
                            std::to_string(dyn.indirect_dim));
    if (on_chip())
      throw ValidationError(".ap() on " + describe() + ": vector_offset indexes HBM tensors only "
                            "(the indexed tensor must be in HBM)");
    // The first pair's step is replaced by the row index; check the pattern of one row.
    auto one = pattern;
    if (!one.empty()) one[0].second = 1;
    r = ap(one, offset, dtype);
    r.dims_[0] = Dim{dyn.multiplier, pattern.empty() ? 1 : pattern[0].second};
    if (r.dims_[0].count < 1)
      throw ValidationError(".ap() on " + describe() + ": pattern entry 0 has num " +
                            std::to_string(r.dims_[0].count) + " (must be >= 1)");
  } else {
    r = ap(pattern, offset, dtype);
  }
  r.dyn_ = std::make_shared<const DynamicOffset>(std::move(dyn));
  return r;
}

Tensor Tensor::index_dynamic(int dim, const RegRef& reg, int64_t size) const {
  if (dim < 0 || dim >= ndim_)
    throw OutOfBoundsError("nl.ds(register, " + std::to_string(size) + ") indexes dimension " +
                           std::to_string(dim) + " of " + describe() + ", which has " +
                           std::to_string(ndim_) + " dimensions");
  if (dyn_)
    throw ValidationError("nl.ds(register, ...) on " + describe() +
                          ": the view already has a dynamic offset (one per view)");
  if (size < 1 || size > dims_[dim].count)
    throw OutOfBoundsError("nl.ds(register, " + std::to_string(size) + ") on dimension " +
                           std::to_string(dim) + " of " + describe() + " (size " +
                           std::to_string(dims_[dim].count) + ") selects too many elements");
  std::vector<IndexItem> key(ndim_, IndexItem{IndexItem::all});
  key[dim] = IndexItem{IndexItem::slice, 0, size, 1};
  Tensor r = index(key);
  DynamicOffset dyn;
  dyn.scalar_reg = reg;
  dyn.multiplier = dims_[dim].step;
  dyn.on_partitions = on_chip() && dim == 0;
  dyn.max_value = dims_[dim].count - size;
  dyn.extent = dims_[dim].count;
  dyn.indirect_dim = dim;
  dyn.origin = "nl.ds(register, " + std::to_string(size) + ") on dimension " + std::to_string(dim);
  r.dyn_ = std::make_shared<const DynamicOffset>(std::move(dyn));
  return r;
}

std::optional<Tensor> Tensor::shifted(int64_t value) const {
  const DynamicOffset& dy = *dyn_;
  if (dy.max_value >= 0 && (value < 0 || value > dy.max_value)) return std::nullopt;
  if (value < -(int64_t{1} << 40) || value > (int64_t{1} << 40)) return std::nullopt;
  Tensor r = without_dynamic();
  const int64_t delta = value * dy.multiplier;
  if (dy.on_partitions) {
    r.part_ += delta;
  } else if (on_chip()) {
    const int64_t F = base_free_elements();
    const int64_t flat = part_ * F + offset_ + delta;
    if (flat < 0) return std::nullopt;
    r.part_ = flat / F;
    r.offset_ = flat % F;
  } else {
    r.offset_ += delta;
  }
  return r;
}

std::optional<Tensor> Tensor::moved(int64_t value) const {
  std::optional<Tensor> r = shifted(value);
  if (!r || !r->in_bounds()) return std::nullopt;
  return r;
}

std::optional<Tensor> Tensor::moved_rows(int64_t value, int64_t* first, int64_t* count) const {
  const std::optional<Tensor> shifted_view = shifted(value);
  if (!shifted_view) return std::nullopt;
  const Tensor& r = *shifted_view;
  int64_t f = -1, n = 0;
  for (int64_t i = 0; i < r.dims_[0].count; ++i) {
    Tensor row = r;
    row.dims_[0].count = 1;
    if (r.on_chip()) row.part_ += i * r.dims_[0].step;
    else row.offset_ += i * r.dims_[0].step;
    const bool ok = row.in_bounds();
    if (ok && f < 0) f = i;
    if (ok && f >= 0 && i == f + n) ++n;
    else if (ok) return std::nullopt;  // in-bound rows in two runs: not one transfer
  }
  if (n == 0) return std::nullopt;
  *first = f;
  *count = n;
  Tensor out = r;
  if (r.on_chip()) out.part_ += f * r.dims_[0].step;
  else out.offset_ += f * r.dims_[0].step;
  out.dims_[0].count = n;
  out.is_base_ = false;
  if (!out.in_bounds()) return std::nullopt;
  return out;
}

std::optional<Tensor> Tensor::indirect_row(int64_t row, int64_t value) const {
  (void)row;
  if (value < 0 || value >= dyn_->extent) return std::nullopt;
  Tensor r = without_dynamic();
  r.dims_[0].count = 1;
  r.offset_ += value * dyn_->multiplier;
  if (!r.in_bounds()) return std::nullopt;
  return r;
}

Tensor Tensor::broadcast_to(const std::vector<int64_t>& shape) const {
  if (static_cast<int>(shape.size()) != ndim_)
    throw ValidationError("cannot broadcast " + describe() + " to " + shape_str(shape) +
                          ": ranks differ");
  Tensor r = *this;
  r.is_base_ = false;
  for (int d = 0; d < ndim_; ++d) {
    if (shape[d] == dims_[d].count) continue;
    if (dims_[d].count != 1)
      throw ValidationError("cannot broadcast " + describe() + " to " + shape_str(shape) +
                            ": dimension " + std::to_string(d) + " is neither equal nor 1");
    if (d == 0 && on_chip())
      throw ValidationError("cannot broadcast the partition dimension of on-chip " + describe() +
                            ": engines read each partition from itself");
    r.dims_[d] = Dim{0, shape[d]};
  }
  r.check_view_size("broadcast");
  return r;
}

bool Tensor::covers_allocation() const {
  const int64_t es = static_cast<int64_t>(size_of(dtype_));
  if (on_chip())
    return part_ == 0 && offset_ == 0 && dims_[0].count == alloc_->num_partitions &&
           contiguous_free() && free_size() * es == alloc_->bytes;
  return offset_ == 0 && contiguous_all() && size() * es == alloc_->bytes;
}

void Tensor::claim_for_overwrite(std::initializer_list<const Tensor*> sources) const {
  if (!alloc_->unfilled || !covers_allocation()) return;
  for (const Tensor* s : sources)
    if (s != nullptr && s->alloc_ == alloc_) return;
  alloc_->unfilled = false;
}

bool Tensor::same_view(const Tensor& o) const {
  if (alloc_ != o.alloc_ || dtype_ != o.dtype_ || ndim_ != o.ndim_ || part_ != o.part_ ||
      offset_ != o.offset_ || unusable_ || o.unusable_ || dyn_ || o.dyn_)
    return false;
  for (int d = 0; d < ndim_; ++d)
    if (dims_[d].step != o.dims_[d].step || dims_[d].count != o.dims_[d].count) return false;
  return true;
}

Strided Tensor::strided() const {
  if (unusable_)
    throw OutOfBoundsError(*unusable_ + " (creating such a view is allowed, using it in an "
                           "instruction is not)");
  alloc_->ensure_filled();
  Strided s;
  const int64_t es = static_cast<int64_t>(size_of(dtype_));
  s.ndim = ndim_;
  int64_t first = offset_ * es;
  if (on_chip()) first += part_ * alloc_->partition_stride;
  s.base = alloc_->data + first;
  s.shadow = alloc_->wstate == Allocation::WriteState::some ? alloc_->written + first : nullptr;
  for (int d = 0; d < ndim_; ++d) {
    s.count[d] = dims_[d].count;
    s.stride[d] = (d == 0 && on_chip()) ? dims_[d].step * alloc_->partition_stride
                                        : dims_[d].step * es;
  }
  return s;
}

}  // namespace nkisim
