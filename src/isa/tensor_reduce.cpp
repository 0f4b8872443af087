// nisa.tensor_reduce: reduce the trailing free axes of each partition.
#include <algorithm>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
// Elements reduced into one output element: the product of the reduced (trailing) dims.
int64_t group_len(const TensorReduceOp& op) {
  int64_t g = 1;
  for (int a : op.axis) g *= op.data.dim(a).count;
  return g;
}

template <class T>
void run(const TensorReduceOp& op) {
  const Rows d = rows_of(op.dst), a = rows_of(op.data, alu_is_bitvec(op.op));
  const int64_t len = group_len(op), N = a.ncols, groups = N / len;
  const int64_t step = std::max<int64_t>(1, kBlockElems / N);
  auto body = [&](int64_t ra, int64_t rb) {
    for (int64_t r0 = ra; r0 < rb; r0 += step) {
      const int64_t nr = std::min(step, rb - r0);
      Scratch<T> x(nr * N), y(nr * groups);
      load<T>(a, r0, nr, 0, N, x);
      alu_reduce(op.op, x, nr * groups, len, y);
      if (op.negate)
        for (int64_t i = 0; i < nr * groups; ++i) y[i] = -y[i];
      store<T>(d, r0, nr, 0, groups, y);
    }
  };
  if (a.nrows * N >= (int64_t{1} << 16)) parallel_rows(a.nrows, a.nrows * N, body);
  else body(0, a.nrows);
}
}  // namespace

void validate(const TensorReduceOp& op, const Interpreter& in) {
  const Check c{"tensor_reduce"};
  c.buffer_in("dst", op.dst, kOnChip, in);
  c.buffer_in("data", op.data, kOnChip, in);
  c.writable("dst", op.dst);
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  NKISIM_REQUIRE(c, op.dst.partitions() == op.data.partitions(), "dst",
            "partition dimension " + std::to_string(op.dst.partitions()) +
                " must equal that of data, " + std::to_string(op.data.partitions()));
  NKISIM_REQUIRE(c, op.op != AluOp::none && alu_can_reduce(op.op), "op",
            "must be a reduction operator (add, subtract, multiply, maximum, minimum, "
            "logical_and/or/xor, bitwise_and/or/xor), found " + std::string(alu_name(op.op)));
  const int nd = op.data.ndim();
  NKISIM_REQUIRE(c, !op.axis.empty(), "axis", "at least one axis is required");
  std::vector<int> ax = op.axis;
  std::sort(ax.begin(), ax.end());
  std::string given;
  for (int a : op.axis) given += (given.empty() ? "" : ", ") + std::to_string(a);
  for (size_t i = 0; i < ax.size(); ++i) {
    NKISIM_REQUIRE(c, ax[i] >= 1 && ax[i] < nd, "axis",
              "axis " + std::to_string(ax[i]) + " is not a free dimension of data with shape " +
                  shape_of(op.data) + " (valid: 1.." + std::to_string(nd - 1) +
                  "; the partition axis 0 cannot be reduced)");
    NKISIM_REQUIRE(c, ax[i] == nd - static_cast<int>(ax.size()) + static_cast<int>(i), "axis",
              "axes (" + given + ") must be the trailing contiguous free dimensions of data " +
                  shape_of(op.data) + ", ending at axis " + std::to_string(nd - 1));
  }
  if (alu_is_bitvec(op.op)) {
    NKISIM_REQUIRE(c, is_int(op.data.dtype()) && is_int(op.dst.dtype()), "data",
              "bitvec reduction needs integer dtypes, found " + std::string(name(op.data.dtype())));
    NKISIM_REQUIRE(c, !op.negate, "negate", "is only valid with arithmetic operators");
  }
  int64_t g = 1;
  for (int a : op.axis) g *= op.data.dim(a).count;
  NKISIM_REQUIRE(c, op.dst.free_size() == op.data.free_size() / g, "dst",
            "must hold " + std::to_string(op.data.free_size() / g) +
                " elements per partition (data " + shape_of(op.data) + " reduced over axes (" +
                given + ")), found shape " + shape_of(op.dst));
}

void execute(TensorReduceOp& op, Interpreter&) {
  if (alu_is_bitvec(op.op)) run<int64_t>(op);
  else run<float>(op);
}

}  // namespace nkisim
