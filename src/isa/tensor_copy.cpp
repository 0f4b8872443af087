// nisa.tensor_copy: dst = src element-wise; bit-exact for equal dtypes, through fp32 otherwise.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const TensorCopyOp& op, const Interpreter& in) {
  const Check c{"tensor_copy"};
  c.engine_in(op.engine, {Engine::vector, Engine::scalar, Engine::gpsimd});
  const unsigned bufs = op.engine == Engine::gpsimd ? kSbuf : kOnChip;
  // Equal dtypes copy bits (packed x4 included); different dtypes convert through fp32.
  c.elementwise(op.dst, "src", op.src, bufs, in, op.dst.dtype() == op.src.dtype());
  if (op.engine == Engine::scalar && in.target().gen == Gen::gen2)
    c.fail("engine", "tensor_copy does not run on the scalar engine of trn1; use "
                     "activation(op=nl.copy)");
}

void execute(TensorCopyOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.src});
  const Rows d = rows_of(op.dst), s = rows_of(op.src);
  if (op.dst.dtype() == op.src.dtype()) {
    for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
      Scratch<std::byte> raw(static_cast<size_t>(nr * nc) * d.es);
      gather_raw(s, r0, nr, c0, nc, raw);
      scatter_raw(d, r0, nr, c0, nc, raw);
    });
    return;
  }
  elementwise_f32<1>(d, {&s}, [](const Block& out, const Block* in, int64_t) { copy_block(out, in[0]); });
}

}  // namespace nkisim
