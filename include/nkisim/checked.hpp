// nkisim: overflow-checked integer arithmetic for every user number that becomes a size, offset,
// address or stride (shapes, `address=`, `.ap()` patterns, reshapes, dtype views).
//
// A Checked carries an int64 value and a sticky overflow flag: compute the whole expression, then
// ask ok() once and report the user's inputs in the error. Nothing wraps around silently.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace nkisim {

class Checked {
 public:
  constexpr Checked(int64_t v = 0) : v_(v) {}  // NOLINT: implicit from int64 on purpose

  friend Checked operator+(Checked a, Checked b) {
    Checked r;
    r.bad_ = a.bad_ || b.bad_ || __builtin_add_overflow(a.v_, b.v_, &r.v_);
    return r;
  }
  friend Checked operator-(Checked a, Checked b) {
    Checked r;
    r.bad_ = a.bad_ || b.bad_ || __builtin_sub_overflow(a.v_, b.v_, &r.v_);
    return r;
  }
  friend Checked operator*(Checked a, Checked b) {
    Checked r;
    r.bad_ = a.bad_ || b.bad_ || __builtin_mul_overflow(a.v_, b.v_, &r.v_);
    return r;
  }
  Checked& operator+=(Checked o) { return *this = *this + o; }
  Checked& operator*=(Checked o) { return *this = *this * o; }

  bool ok() const { return !bad_; }
  // The value; only meaningful when ok().
  int64_t value() const { return v_; }
  std::optional<int64_t> get() const { return bad_ ? std::nullopt : std::optional<int64_t>(v_); }
  // ok() and lo <= value <= hi.
  bool within(int64_t lo, int64_t hi) const { return !bad_ && v_ >= lo && v_ <= hi; }

 private:
  int64_t v_ = 0;
  bool bad_ = false;
};

// Product of `dims` (nullopt if it does not fit an int64).
inline std::optional<int64_t> checked_product(const std::vector<int64_t>& dims, size_t from = 0) {
  Checked p = 1;
  for (size_t i = from; i < dims.size(); ++i) p *= dims[i];
  return p.get();
}

}  // namespace nkisim
