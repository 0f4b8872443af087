// nisa.nc_transpose: dst[f, p] = data[p, f], bit-exact, on the tensor engine (SBUF -> PSUM, up to
// 128x128) or the vector engine (up to 32x32).
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
Engine chosen(const TransposeOp& op) {
  if (op.engine != Engine::unknown) return op.engine;
  return op.dst.buffer() == Buffer::psum ? Engine::tensor : Engine::vector;
}
}  // namespace

void validate(const TransposeOp& op, const Interpreter& in) {
  const Check c{"nc_transpose"};
  c.engine_in(op.engine, {Engine::tensor, Engine::vector});
  const Engine e = chosen(op);
  if (e == Engine::tensor) {
    c.buffer_in("data", op.data, kSbuf, in);
    c.buffer_in("dst", op.dst, kPsum, in);
  } else {
    c.buffer_in("data", op.data, kOnChip, in);
    c.buffer_in("dst", op.dst, kOnChip, in);
  }
  c.writable("dst", op.dst);
  const int64_t lim = e == Engine::tensor ? 128 : 32;
  NKISIM_REQUIRE(c, op.data.partitions() <= lim && op.data.free_size() <= lim, "data",
            "the " + std::string(engine_name(e)) + " engine transposes at most [" +
                std::to_string(lim) + ", " + std::to_string(lim) + "], found " + shape_of(op.data));
  NKISIM_REQUIRE(c, op.dst.dtype() == op.data.dtype(), "dst",
            "dtype must equal data dtype " + std::string(name(op.data.dtype())) + ", found " +
                std::string(name(op.dst.dtype())));
  NKISIM_REQUIRE(c, op.dst.partitions() == op.data.free_size() && op.dst.free_size() == op.data.partitions(),
            "dst",
            "must have shape [" + std::to_string(op.data.free_size()) + ", " +
                std::to_string(op.data.partitions()) + "] (data " + shape_of(op.data) +
                " transposed), found " + shape_of(op.dst));
}

void execute(TransposeOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows s = rows_of(op.data), d = rows_of(op.dst);
  const int64_t P = s.nrows, F = s.ncols, es = s.es;
  Scratch<std::byte> in(static_cast<size_t>(P * F * es)), out(static_cast<size_t>(P * F * es));
  gather_raw(s, 0, P, 0, F, in);
  transpose_raw(in, out, P, F, es);
  scatter_raw(d, 0, F, 0, P, out);
}

}  // namespace nkisim
