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
      std::byte* raw = scratch_raw(0, static_cast<size_t>(nr * nc) * d.es);
      gather_raw(s, r0, nr, c0, nc, raw);
      scatter_raw(d, r0, nr, c0, nc, raw);
    });
    return;
  }
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    float* scratch = lanes<float>(0, nr * nc);
    const Block x = src_block(s, r0, nr, c0, nc, scratch);
    copy_block(Block{scratch, nr, nc, nc}, x);
    store<float>(d, r0, nr, c0, nc, scratch);
  });
}

}  // namespace nkisim
