// nisa.tensor_partition_reduce (GpSimd): dst[0, f] = op over the partitions p of data[p, f].
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const TensorPartitionReduceOp& op, const Interpreter& in) {
  const Check c{"tensor_partition_reduce"};
  c.writable("dst", op.dst);
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  c.not_packed("dst", op.dst);
  const AluOp o = op.op;
  NKISIM_REQUIRE(c, o == AluOp::add || o == AluOp::maximum || o == AluOp::bitwise_or ||
                        o == AluOp::bitwise_and,
                 "op", "must be nl.add, nl.maximum, nl.bitwise_or or nl.bitwise_and, found " +
                           std::string(alu_name(o)));
  NKISIM_REQUIRE(c, op.dst.partitions() == 1, "dst",
                 "must have 1 partition (the reduction across partitions), found shape " +
                     shape_of(op.dst));
  NKISIM_REQUIRE(c, op.dst.free_size() == op.data.free_size(), "dst",
                 std::to_string(op.dst.free_size()) + " elements per partition (shape " +
                     shape_of(op.dst) + ") must equal those of data, " +
                     std::to_string(op.data.free_size()) + " (shape " + shape_of(op.data) + ")");
  if (alu_is_bitvec(o))
    for (auto [n, t] : {Named{"dst", &op.dst}, Named{"data", &op.data}})
      NKISIM_REQUIRE(c, is_int(t->dtype()), n,
                     "bitvec op " + std::string(alu_name(o)) + " needs integer dtypes, found " +
                         std::string(name(t->dtype())));
}

namespace {
template <class T>
void run(const TensorPartitionReduceOp& op) {
  const bool raw = alu_is_bitvec(op.op);
  const Rows d = rows_of(op.dst), a = rows_of(op.data, raw);
  const int64_t P = a.nrows, N = a.ncols;
  for (int64_t c0 = 0; c0 < N; c0 += kBlockElems) {
    const int64_t nc = std::min(kBlockElems, N - c0);
    Scratch<T> scr1(nc);
    T* acc = scr1;
    Scratch<T> scr2(nc);
    T* x = scr2;
    load<T>(a, 0, 1, c0, nc, acc);
    for (int64_t p = 1; p < P; ++p) {
      load<T>(a, p, 1, c0, nc, x);
      if constexpr (std::is_same_v<T, float>) {
        const Block o{acc, 1, nc, nc}, y{x, 1, nc, nc};
        alu_binary(op.op, o, o, y);
      } else {
        alu_binary(op.op, acc, acc, x, nc);
      }
    }
    store<T>(d, 0, 1, c0, nc, acc);
  }
}
}  // namespace

void execute(TensorPartitionReduceOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  if (alu_is_bitvec(op.op) || (is_int(op.data.dtype()) && is_int(op.dst.dtype()))) run<int64_t>(op);
  else run<float>(op);
}

}  // namespace nkisim
