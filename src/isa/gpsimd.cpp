// GpSimd data-movement and search instructions: local_gather, nc_n_gather, sequence_bounds,
// nonzero_with_count. GpSimd = 8 cores of 16 partitions each; it reads and writes SBUF only.
//
// Readings of the docs: gather indices are data, so they are checked when the instruction runs;
// an index outside the gathered tensor's partition is an NkiValidationError (the docs call it
// undefined; nothing is read or written then). sequence_bounds refuses negative or fractional ids
// the same way ("all segment IDs must be non-negative integers").
#include <cmath>
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
constexpr int64_t kCoreParts = 16;  // partitions per GpSimd core

std::string idx_text(int64_t p, int64_t k) {
  std::string s(1, '[');  // (appending, not "[" + ...: GCC 12 warns falsely about that)
  s += std::to_string(p);
  s += ", ";
  s += std::to_string(k);
  s += ']';
  return s;
}
}  // namespace

// ---------------------------------------------------------------- local_gather
void validate(const LocalGatherOp& op, const Interpreter& in) {
  const Check c{"local_gather"};
  c.max_partitions("src_buffer", op.src_buffer, in.target().partitions);
  c.not_packed("src_buffer", op.src_buffer);
  const int64_t P = op.src_buffer.partitions();
  NKISIM_REQUIRE(c, op.index.partitions() == P, "index",
                 "partition dimension " + std::to_string(op.index.partitions()) +
                     " must equal that of src_buffer, " + std::to_string(P));
  NKISIM_REQUIRE(c, P % kCoreParts == 0, "src_buffer",
                 "partition dimension must be a multiple of 16 (one GpSimd core per 16 partitions), "
                 "found " + std::to_string(P));
  NKISIM_REQUIRE(c, op.index.dtype() == DType::uint16, "index",
                 "dtype must be uint16, found " + std::string(name(op.index.dtype())));
  NKISIM_REQUIRE(c, op.dst.dtype() == op.src_buffer.dtype(), "dst",
                 "dtype must equal src_buffer dtype " + std::string(name(op.src_buffer.dtype())) +
                     " (local_gather does not cast), found " + std::string(name(op.dst.dtype())));
  const int64_t n = op.num_elem_per_idx;
  NKISIM_REQUIRE(c, n == 1 || n == 2 || n == 4 || n == 8 || n == 16 || n == 32, "num_elem_per_idx",
                 "must be one of 1, 2, 4, 8, 16, 32, found " + std::to_string(n));
  const int64_t per_core = op.index.free_size() * kCoreParts;
  const int64_t nv = op.num_valid_indices.value_or(per_core);
  NKISIM_REQUIRE(c, nv >= 1 && nv <= per_core, "num_valid_indices",
                 "must be in [1, " + std::to_string(per_core) +
                     "] (the indices in a 16-partition slice of index " + shape_of(op.index) +
                     "), found " + std::to_string(nv));
  NKISIM_REQUIRE(c, nv <= 4096, "num_valid_indices",
                 "a GpSimd core gathers at most 4096 indices, found " + std::to_string(nv));
  NKISIM_REQUIRE(c, op.dst.partitions() == P && op.dst.free_size() == nv * n, "dst",
                 "must have " + std::to_string(P) + " partitions of " + std::to_string(nv * n) +
                     " elements (num_valid_indices " + std::to_string(nv) + " x num_elem_per_idx " +
                     std::to_string(n) + "), found shape " + shape_of(op.dst));
}

void execute(LocalGatherOp& op, Interpreter&) {
  const Check c{"local_gather"};
  const Rows s = rows_of(op.src_buffer), x = rows_of(op.index), d = rows_of(op.dst);
  const int64_t P = s.nrows, F = s.ncols, K = x.ncols, es = s.es;
  const int64_t n = op.num_elem_per_idx;
  const int64_t nv = op.num_valid_indices.value_or(K * kCoreParts);
  // Each core's indices, flattened partition-first: j -> index[16 c + j % 16, j / 16].
  std::vector<int64_t> idx(static_cast<size_t>(P * K));
  load<int64_t>(x, 0, P, 0, K, idx.data());
  std::vector<int64_t> flat(static_cast<size_t>(P / kCoreParts * nv));
  for (int64_t core = 0; core < P / kCoreParts; ++core)
    for (int64_t j = 0; j < nv; ++j) {
      const int64_t p = core * kCoreParts + j % kCoreParts, k = j / kCoreParts;
      const int64_t v = idx[p * K + k];
      NKISIM_REQUIRE(c, v + n <= F, "index",
                     "index " + std::to_string(v) + " at " + idx_text(p, k) + " (with num_elem_per_idx " +
                         std::to_string(n) + ") reads past the " + std::to_string(F) +
                         " elements of each partition of src_buffer " + shape_of(op.src_buffer));
      flat[core * nv + j] = v;
    }
  op.dst.claim_for_overwrite({&op.src_buffer, &op.index});
  Scratch<std::byte> row(static_cast<size_t>(F * es));
  Scratch<std::byte> out(static_cast<size_t>(nv * n * es));
  for (int64_t p = 0; p < P; ++p) {
    gather_raw(s, p, 1, 0, F, row);
    const int64_t* f = &flat[p / kCoreParts * nv];
    for (int64_t j = 0; j < nv; ++j) std::memcpy(out + j * n * es, row + f[j] * es, n * es);
    scatter_raw(d, p, 1, 0, nv * n, out);
  }
}

// ---------------------------------------------------------------- nc_n_gather
void validate(const NGatherOp& op, const Interpreter& in) {
  const Check c{"nc_n_gather"};
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  NKISIM_REQUIRE(c, op.indices.dtype() == DType::uint32, "indices",
                 "dtype must be uint32, found " + std::string(name(op.indices.dtype())));
  NKISIM_REQUIRE(c, op.indices.partitions() == op.data.partitions(), "indices",
                 "partition dimension " + std::to_string(op.indices.partitions()) +
                     " must equal that of data, " + std::to_string(op.data.partitions()));
  NKISIM_REQUIRE(c, op.dst.dtype() == op.data.dtype(), "dst",
                 "dtype must equal data dtype " + std::string(name(op.data.dtype())) + ", found " +
                     std::string(name(op.dst.dtype())));
  c.same_layout("dst", op.dst, "indices", op.indices);
}

void execute(NGatherOp& op, Interpreter&) {
  const Check c{"nc_n_gather"};
  const Rows a = rows_of(op.data), x = rows_of(op.indices), d = rows_of(op.dst);
  const int64_t P = a.nrows, F = a.ncols, K = x.ncols, es = a.es;
  std::vector<int64_t> idx(static_cast<size_t>(P * K));
  load<int64_t>(x, 0, P, 0, K, idx.data());
  for (int64_t p = 0; p < P; ++p)
    for (int64_t k = 0; k < K; ++k)
      NKISIM_REQUIRE(c, idx[p * K + k] < F, "indices",
                     "index " + std::to_string(idx[p * K + k]) + " at " + idx_text(p, k) +
                         " is out of range [0, " + std::to_string(F) +
                         ") (the elements per partition of data " + shape_of(op.data) + ")");
  op.dst.claim_for_overwrite({&op.data, &op.indices});
  Scratch<std::byte> row(static_cast<size_t>(F * es));
  Scratch<std::byte> out(static_cast<size_t>(K * es));
  for (int64_t p = 0; p < P; ++p) {
    gather_raw(a, p, 1, 0, F, row);
    const int64_t* ip = &idx[p * K];
    switch (es) {
      case 4:
        for (int64_t k = 0; k < K; ++k)
          reinterpret_cast<uint32_t*>(out.get())[k] = reinterpret_cast<const uint32_t*>(row.get())[ip[k]];
        break;
      case 2:
        for (int64_t k = 0; k < K; ++k)
          reinterpret_cast<uint16_t*>(out.get())[k] = reinterpret_cast<const uint16_t*>(row.get())[ip[k]];
        break;
      default:
        for (int64_t k = 0; k < K; ++k) std::memcpy(out + k * es, row + ip[k] * es, es);
    }
    scatter_raw(d, p, 1, 0, K, out);
  }
}

// ---------------------------------------------------------------- sequence_bounds
void validate(const SequenceBoundsOp& op, const Interpreter&) {
  const Check c{"sequence_bounds"};
  for (auto [n, t] : {Named{"segment_ids", &op.segment_ids}, Named{"dst", &op.dst}}) {
    NKISIM_REQUIRE(c, t->dtype() == DType::float32 || t->dtype() == DType::int32, n,
                   "dtype must be float32 or int32, found " + std::string(name(t->dtype())));
    NKISIM_REQUIRE(c, t->partitions() == 1, n,
                   "partition dimension must be 1, found shape " + shape_of(*t));
  }
  const int64_t n = op.segment_ids.free_size();
  NKISIM_REQUIRE(c, op.dst.free_size() == 2 * n, "dst",
                 "must have shape [1, 2, " + std::to_string(n) +
                     "] (a start and an end index per segment id), found " + shape_of(op.dst));
}

void execute(SequenceBoundsOp& op, Interpreter&) {
  const Check c{"sequence_bounds"};
  const Rows s = rows_of(op.segment_ids), d = rows_of(op.dst);
  const int64_t n = s.ncols;
  std::vector<double> id(static_cast<size_t>(n));
  if (s.dtype == DType::int32) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    load<int64_t>(s, 0, 1, 0, n, v.data());
    for (int64_t i = 0; i < n; ++i) id[i] = static_cast<double>(v[i]);
  } else {
    std::vector<float> v(static_cast<size_t>(n));
    load<float>(s, 0, 1, 0, n, v.data());
    for (int64_t i = 0; i < n; ++i) id[i] = v[i];
  }
  for (int64_t i = 0; i < n; ++i)
    NKISIM_REQUIRE(c, id[i] >= 0 && std::floor(id[i]) == id[i], "segment_ids",
                   "segment ids must be non-negative integers, found " + std::to_string(id[i]) +
                       " at [0, " + std::to_string(i) + "]");
  op.dst.claim_for_overwrite({&op.segment_ids});
  std::vector<int64_t> out(static_cast<size_t>(2 * n));
  int64_t* start = out.data();
  int64_t* end = out.data() + n;
  for (int64_t i = 0; i < n; ++i)
    start[i] = id[i] == 0 ? n : (i > 0 && id[i] == id[i - 1] ? start[i - 1] : i);
  for (int64_t i = n - 1; i >= 0; --i)
    end[i] = id[i] == 0 ? -1 : (i + 1 < n && id[i] == id[i + 1] ? end[i + 1] : i + 1);
  store<int64_t>(d, 0, 1, 0, 2 * n, out.data());
}

// ---------------------------------------------------------------- nonzero_with_count
void validate(const NonzeroWithCountOp& op, const Interpreter& in) {
  const Check c{"nonzero_with_count"};
  c.max_partitions("src", op.src, in.target().partitions);
  NKISIM_REQUIRE(c, op.src.dtype() == DType::float32 || op.src.dtype() == DType::int32, "src",
                 "dtype must be float32 or int32, found " + std::string(name(op.src.dtype())));
  NKISIM_REQUIRE(c, op.dst.dtype() == DType::int32, "dst",
                 "dtype must be int32, found " + std::string(name(op.dst.dtype())));
  NKISIM_REQUIRE(c, op.dst.partitions() == op.src.partitions(), "dst",
                 "partition dimension " + std::to_string(op.dst.partitions()) +
                     " must equal that of src, " + std::to_string(op.src.partitions()));
  NKISIM_REQUIRE(c, op.dst.free_size() == op.src.free_size() + 1, "dst",
                 "must have one more element per partition than src (" +
                     std::to_string(op.src.free_size() + 1) + ": the indices, then the count), found " +
                     std::to_string(op.dst.free_size()) + " (shape " + shape_of(op.dst) + ")");
  for (auto [n, v] : {std::pair<const char*, int64_t>{"index_offset", op.index_offset},
                      std::pair<const char*, int64_t>{"padding_val", op.padding_val}})
    NKISIM_REQUIRE(c, v >= INT32_MIN && v <= INT32_MAX, n,
                   "must be an int32, found " + std::to_string(v));
}

void execute(NonzeroWithCountOp& op, Interpreter&) {
  // Only the first partition of each GpSimd core's 16 (0, 16, ..., 112 of the tile) is read and
  // written; dst's other partitions keep their contents (no claim_for_overwrite).
  const Rows s = rows_of(op.src), d = rows_of(op.dst);
  const int64_t P = s.nrows, T = s.ncols;
  std::vector<int64_t> v(static_cast<size_t>(T)), out(static_cast<size_t>(T + 1));
  std::vector<float> f(s.dtype == DType::float32 ? static_cast<size_t>(T) : 0);
  for (int64_t p = 0; p < P; p += kCoreParts) {
    int64_t cnt = 0;
    if (s.dtype == DType::float32) {
      load<float>(s, p, 1, 0, T, f.data());
      for (int64_t i = 0; i < T; ++i)
        if (f[i] != 0.0f) out[cnt++] = i + op.index_offset;  // NaN is nonzero, -0.0 is zero
    } else {
      load<int64_t>(s, p, 1, 0, T, v.data());
      for (int64_t i = 0; i < T; ++i)
        if (v[i] != 0) out[cnt++] = i + op.index_offset;
    }
    for (int64_t i = cnt; i < T; ++i) out[i] = op.padding_val;
    out[T] = cnt;
    store<int64_t>(d, p, 1, 0, T + 1, out.data());
  }
}

}  // namespace nkisim
