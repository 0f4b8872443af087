// nisa.memset: fill dst with a constant of dst's dtype.
#include <cmath>
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const MemsetOp& op, const Interpreter& in) {
  const Check c{"memset"};
  c.engine_in(op.engine, {Engine::vector, Engine::gpsimd});
  const unsigned bufs = op.engine == Engine::gpsimd ? kSbuf : kOnChip;
  c.buffer_in("dst", op.dst, bufs, in);
  c.writable("dst", op.dst);
  c.max_partitions("dst", op.dst, in.target().partitions);
  const DType t = op.dst.dtype();
  if (is_int(t)) {
    NKISIM_REQUIRE(c, !op.value.is_float, "value",
              "must match dst dtype " + std::string(name(t)) + ": pass an int, found the float " +
                  std::to_string(op.value.value));
  }
  if (is_packed(t))
    NKISIM_REQUIRE(c, op.value.value == 0.0, "value",
              "packed dtype " + std::string(name(t)) + " can only be set to 0, found " +
                  std::to_string(op.value.value));
}

void execute(MemsetOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({});
  const Rows d = rows_of(op.dst);
  // Encode the value once, then replicate the element's bytes.
  std::byte elem[8] = {};
  if (is_packed(d.dtype)) {
    // only zero is legal
  } else if (is_int(d.dtype)) {
    const int64_t v = static_cast<int64_t>(op.value.value);
    from_i64(d.dtype, &v, elem, 1);
  } else {
    const float v = static_cast<float>(op.value.value);
    from_f32(d.dtype, &v, elem, 1);
  }
  const int64_t block = std::min<int64_t>(d.ncols >= kBlockElems ? kBlockElems
                                                                  : std::max<int64_t>(1, kBlockElems / d.ncols) * d.ncols,
                                          d.nrows * d.ncols);
  Scratch<std::byte> pattern(static_cast<size_t>(block) * d.es);
  for (int64_t i = 0; i < block; ++i) std::memcpy(pattern + i * d.es, elem, d.es);
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    scatter_raw(d, r0, nr, c0, nc, pattern);
  });
}

}  // namespace nkisim
