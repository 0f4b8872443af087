// nisa.rng, rand2, rand_get_state, rand_set_state, set_rng_seed, dropout: the engines' random
// number generators.
//
// Generators (the state lives in Interpreter::rng_vector / rng_gpsimd, one row per compute lane):
//  - XORWOW (Marsaglia, "Xorshift RNGs", 2003; the step cuRAND uses), named by the NKI docs for the
//    Vector engine of trn3 (4 states per lane, 24 uint32) and the GpSimd engine (1 state, 6 uint32).
//    State words, in the order rand_get_state stores them: [x, y, z, w, v, d]; a step is
//      t = x ^ (x >> 2); x = y; y = z; z = w; w = v; v = (v ^ (v << 4)) ^ (t ^ (t << 1));
//      d += 362437; output v + d.
//    The Vector engine draws 4 values per lane per round, one from each state (element j of a
//    partition comes from state j % 4); an instruction draws ceil(n / 4) rounds per lane and drops
//    the values beyond n, so the 4 states always advance together.
//  - The Vector engine of trn1/trn2 (an LFSR whose taps the docs do not give) is modelled by a
//    counter-based generator: value = high 32 bits of SplitMix64(key * 2^32 + lane, counter), the
//    per-lane state [key, counter lo, counter hi]. It has no state load/store (as on hardware).
//  Seeding (set_rng_seed, and the default state of a fresh core): each state is expanded from
//  (seed, lane, state index) with SplitMix64 (Steele, Lea, Flood 2014); a fresh core behaves as if
//  seeded with its core id. Lanes are the absolute SBUF/PSUM partitions of the operand.
//  Every value depends only on the seed/state, the lane and the order of instructions: the same on
//  any machine and with any thread scheduling (rows, i.e. lanes, are independent).
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {

uint64_t splitmix_next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void xorwow_seed(uint32_t* st, uint32_t seed, int lane, int index, int engine_tag) {
  uint64_t s = (uint64_t{seed} << 32) ^ (uint64_t(lane) << 8) ^ uint64_t(index) ^
               (uint64_t(engine_tag) << 20);
  for (int i = 0; i < 6; i += 2) {
    const uint64_t r = splitmix_next(s);
    st[i] = static_cast<uint32_t>(r);
    st[i + 1] = static_cast<uint32_t>(r >> 32);
  }
  if ((st[0] | st[1] | st[2] | st[3] | st[4]) == 0) st[0] = 123456789u;  // never the all-zero state
}

inline uint32_t xorwow_step(uint32_t* st) {
  uint32_t t = st[0] ^ (st[0] >> 2);
  st[0] = st[1];
  st[1] = st[2];
  st[2] = st[3];
  st[3] = st[4];
  st[4] = (st[4] ^ (st[4] << 4)) ^ (t ^ (t << 1));
  st[5] += 362437u;
  return st[4] + st[5];
}

void seed_vector(Interpreter& in, uint32_t seed) {
  const bool xorwow = in.target().gen == Gen::gen4;
  for (int lane = 0; lane < 128; ++lane) {
    auto& v = in.rng_vector[lane];
    v.fill(0);
    if (xorwow) {
      for (int g = 0; g < 4; ++g) xorwow_seed(v.data() + 6 * g, seed, lane, g, 1);
    } else {
      v[0] = seed;  // key; counter = 0
    }
  }
}

void seed_gpsimd(Interpreter& in, uint32_t seed) {
  for (int lane = 0; lane < 128; ++lane) xorwow_seed(in.rng_gpsimd[lane].data(), seed, lane, 0, 2);
}

void ensure_ready(Interpreter& in) {
  if (in.rng_ready) return;
  const auto seed = static_cast<uint32_t>(in.core_id());
  seed_vector(in, seed);
  seed_gpsimd(in, seed);
  in.rng_ready = true;
}

// n 32-bit values of lane `lane` of engine e, in element order; advances the state.
void draw(Interpreter& in, Engine e, int lane, int64_t n, uint32_t* out) {
  if (e == Engine::gpsimd) {
    uint32_t* st = in.rng_gpsimd[lane].data();
    for (int64_t i = 0; i < n; ++i) out[i] = xorwow_step(st);
    return;
  }
  uint32_t* st = in.rng_vector[lane].data();
  if (in.target().gen == Gen::gen4) {
    uint32_t a[6], b[6], c[6], d[6];  // the 4 states in registers
    std::memcpy(a, st, 24);
    std::memcpy(b, st + 6, 24);
    std::memcpy(c, st + 12, 24);
    std::memcpy(d, st + 18, 24);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      out[i] = xorwow_step(a);
      out[i + 1] = xorwow_step(b);
      out[i + 2] = xorwow_step(c);
      out[i + 3] = xorwow_step(d);
    }
    if (i < n) {  // last partial round: all 4 states step, the extra values are dropped
      const uint32_t r[4] = {xorwow_step(a), xorwow_step(b), xorwow_step(c), xorwow_step(d)};
      for (int k = 0; i < n; ++i, ++k) out[i] = r[k];
    }
    std::memcpy(st, a, 24);
    std::memcpy(st + 6, b, 24);
    std::memcpy(st + 12, c, 24);
    std::memcpy(st + 18, d, 24);
    return;
  }
  // trn1/trn2 Vector: counter-based.
  uint64_t ctr = uint64_t{st[1]} | (uint64_t{st[2]} << 32);
  const uint64_t key = (uint64_t{st[0]} << 32) | static_cast<uint32_t>(lane);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t s = key ^ (ctr++ * 0xd1b54a32d192ed03ull);
    out[i] = static_cast<uint32_t>(splitmix_next(s) >> 32);
  }
  st[1] = static_cast<uint32_t>(ctr);
  st[2] = static_cast<uint32_t>(ctr >> 32);
}

int lane0(const Tensor& t) {
  return t.allocation().start_partition + static_cast<int>(t.start_partition());
}

// Uniform in [0, 1) with 24 random bits: exactly representable in fp32.
inline float unit(uint32_t r) { return static_cast<float>(r >> 8) * (1.0f / 16777216.0f); }

// Walk every row of `v` in column chunks, drawing the chunk's random values in element order.
// Rows (lanes) are independent, so rows may run on both cores.
template <class F>
void for_random_rows(Interpreter& in, Engine e, const Rows& v, int first_lane, F&& f) {
  ensure_ready(in);
  const int64_t chunk = std::min<int64_t>(v.ncols, kBlockElems);
  auto body = [&](int64_t ra, int64_t rb) {
    Scratch<uint32_t> r(static_cast<size_t>(chunk));
    for (int64_t row = ra; row < rb; ++row)
      for (int64_t c0 = 0; c0 < v.ncols; c0 += chunk) {
        const int64_t nc = std::min(chunk, v.ncols - c0);
        draw(in, e, first_lane + static_cast<int>(row), nc, r);
        f(row, c0, nc, r);
      }
  };
  if (v.nrows * v.ncols < (int64_t{1} << 16) || v.nrows < 2) body(0, v.nrows);
  else parallel_rows(v.nrows, v.nrows * v.ncols, body);
}

Engine resolve_state_engine(Engine e, int64_t words, const Interpreter& in) {
  if (e != Engine::unknown) return e;
  if (in.target().gen == Gen::gen4 && words == 24) return Engine::vector;
  return Engine::gpsimd;
}

void check_state_tile(const Check& c, std::string_view operand, const Tensor& t, Engine e,
                      const Interpreter& in) {
  NKISIM_REQUIRE(c, t.dtype() == DType::uint32, operand,
                 "must be uint32, found " + std::string(name(t.dtype())));
  NKISIM_REQUIRE(c, t.ndim() == 2, operand,
                 "must be a 2D tensor [lanes, state words], found shape " + shape_of(t));
  c.max_partitions(operand, t, in.target().partitions);
  const int64_t want = e == Engine::vector ? 24 : 6;
  if (e == Engine::unknown) {
    NKISIM_REQUIRE(c, t.free_size() == 6 || (t.free_size() == 24 && in.target().gen == Gen::gen4),
                   operand,
                   std::string("XORWOW state needs 6 uint32 per partition (GpSimd)") +
                       (in.target().gen == Gen::gen4 ? " or 24 (Vector)" : "") + ", found shape " +
                       shape_of(t));
  } else {
    NKISIM_REQUIRE(c, t.free_size() == want, operand,
                   "XORWOW state of the " + std::string(engine_name(e)) + " engine needs " +
                       std::to_string(want) + " uint32 per partition, found shape " + shape_of(t));
  }
}

bool rng_int_dtype(DType t) {
  switch (t) {
    case DType::int8: case DType::int16: case DType::int32: case DType::uint8:
    case DType::uint16: case DType::uint32: return true;
    default: return false;
  }
}

bool rand2_dtype(DType t) {
  switch (t) {
    case DType::float8_e4m3: case DType::float8_e5m2: case DType::float16: case DType::bfloat16:
    case DType::float32: case DType::tfloat32: return true;
    default: return rng_int_dtype(t);
  }
}

}  // namespace

// ---------------------------------------------------------------- rng
void validate(const RngOp& op, const Interpreter& in) {
  const Check c{"rng"};
  c.writable("dst", op.dst);
  c.max_partitions("dst", op.dst, in.target().partitions);
  NKISIM_REQUIRE(c, rng_int_dtype(op.dst.dtype()), "dst",
                 "dtype must be an integer type (int8, int16, int32, uint8, uint16, uint32), found " +
                     std::string(name(op.dst.dtype())));
  if (op.engine == Engine::gpsimd)
    NKISIM_REQUIRE(c, op.dst.buffer() == Buffer::sbuf, "dst",
                   "must be in SBUF on the gpsimd engine (GpSimd cannot access PSUM)");
}

void execute(RngOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({});
  const Rows d = rows_of(op.dst, true);
  const Engine e = op.engine == Engine::gpsimd ? Engine::gpsimd : Engine::vector;
  for_random_rows(in, e, d, lane0(op.dst), [&](int64_t row, int64_t c0, int64_t nc, const uint32_t* r) {
    Scratch<int64_t> x(nc);
    for (int64_t i = 0; i < nc; ++i) x[i] = r[i];  // stored truncated to the low bits
    store<int64_t>(d, row, 1, c0, nc, x);
  });
}

// ---------------------------------------------------------------- rand2
void validate(const Rand2Op& op, const Interpreter& in) {
  const Check c{"rand2"};
  c.writable("dst", op.dst);
  c.max_partitions("dst", op.dst, in.target().partitions);
  NKISIM_REQUIRE(c, rand2_dtype(op.dst.dtype()), "dst",
                 "dtype must be one of float8_e4m3, float8_e5m2, float16, bfloat16, float32, "
                 "tfloat32, int8, int16, int32, uint8, uint16, uint32, found " +
                     std::string(name(op.dst.dtype())));
  c.scalar_or_vector("min", op.min, op.dst.partitions(), true, in);
  c.scalar_or_vector("max", op.max, op.dst.partitions(), true, in);
  if (!op.min.tile && !op.max.tile)
    NKISIM_REQUIRE(c, op.min.value < op.max.value, "max",
                   "the range needs min < max, found min " + std::to_string(op.min.value) +
                       " and max " + std::to_string(op.max.value));
}

void execute(Rand2Op& op, Interpreter& in) {
  op.dst.claim_for_overwrite({});
  const Rows d = rows_of(op.dst);
  const int64_t P = d.nrows;
  std::vector<float> lo(P), hi(P);
  operand_rows(op.min, 0, P, lo.data());
  operand_rows(op.max, 0, P, hi.data());
  for (int64_t p = 0; p < P; ++p)
    if (!(lo[p] < hi[p]))
      Check{"rand2"}.fail("max", "the range needs min < max, found min " + std::to_string(lo[p]) +
                                     " and max " + std::to_string(hi[p]) + " in partition " +
                                     std::to_string(p));
  for_random_rows(in, Engine::vector, d, lane0(op.dst),
                  [&](int64_t row, int64_t c0, int64_t nc, const uint32_t* r) {
                    Scratch<float> x(nc);
                    const float a = lo[row], w = hi[row] - lo[row];
                    // Two roundings (product, then sum) in two loops, never a fused
                    // multiply-add: the same values on every machine.
                    for (int64_t i = 0; i < nc; ++i) x[i] = unit(r[i]) * w;
                    for (int64_t i = 0; i < nc; ++i) x[i] += a;
                    store<float>(d, row, 1, c0, nc, x);
                  });
}

// ---------------------------------------------------------------- rand_get_state / rand_set_state
void validate(const RandGetStateOp& op, const Interpreter& in) {
  const Check c{"rand_get_state"};
  c.writable("dst", op.dst);
  const Engine e = resolve_state_engine(op.engine, op.dst.free_size(), in);
  check_state_tile(c, "dst", op.dst, op.engine, in);
  if (op.dst.buffer() == Buffer::psum) {
    NKISIM_REQUIRE(c, in.target().gen == Gen::gen4, "dst",
                   "must be in SBUF on " + std::string(in.target().name) + " (PSUM needs trn3)");
    NKISIM_REQUIRE(c, e != Engine::gpsimd, "dst",
                   "must be in SBUF on the gpsimd engine (GpSimd cannot access PSUM)");
  }
}

void execute(RandGetStateOp& op, Interpreter& in) {
  ensure_ready(in);
  op.dst.claim_for_overwrite({});
  const Engine e = resolve_state_engine(op.engine, op.dst.free_size(), in);
  const Rows d = rows_of(op.dst, true);
  const int l0 = lane0(op.dst);
  Scratch<int64_t> x(24);
  for (int64_t p = 0; p < d.nrows; ++p) {
    const uint32_t* st = e == Engine::gpsimd ? in.rng_gpsimd[l0 + p].data() : in.rng_vector[l0 + p].data();
    for (int64_t i = 0; i < d.ncols; ++i) x[i] = st[i];
    store<int64_t>(d, p, 1, 0, d.ncols, x);
  }
}

void validate(const RandSetStateOp& op, const Interpreter& in) {
  const Check c{"rand_set_state"};
  check_state_tile(c, "src_seeds", op.src_seeds, op.engine, in);
}

void execute(RandSetStateOp& op, Interpreter& in) {
  ensure_ready(in);
  const Engine e = resolve_state_engine(op.engine, op.src_seeds.free_size(), in);
  const Rows s = rows_of(op.src_seeds, true);
  const int l0 = lane0(op.src_seeds);
  Scratch<int64_t> x(24);
  for (int64_t p = 0; p < s.nrows; ++p) {
    load<int64_t>(s, p, 1, 0, s.ncols, x);
    uint32_t* st = e == Engine::gpsimd ? in.rng_gpsimd[l0 + p].data() : in.rng_vector[l0 + p].data();
    for (int64_t i = 0; i < s.ncols; ++i) st[i] = static_cast<uint32_t>(x[i]);
  }
}

// ---------------------------------------------------------------- set_rng_seed
void validate(const SetRngSeedOp& op, const Interpreter&) {
  const Check c{"set_rng_seed"};
  const DType t = op.src_seeds.dtype();
  NKISIM_REQUIRE(c, t == DType::int32 || t == DType::uint32 || t == DType::float32, "src_seeds",
                 "must hold a 32-bit value (int32, uint32 or float32), found " + std::string(name(t)));
  NKISIM_REQUIRE(c, op.src_seeds.size() == 1 && op.src_seeds.partitions() == 1, "src_seeds",
                 "must be a [1, 1] tensor, found shape " + shape_of(op.src_seeds));
}

void execute(SetRngSeedOp& op, Interpreter& in) {
  ensure_ready(in);
  const Rows s = rows_of(op.src_seeds, true);
  int64_t v = 0;
  load<int64_t>(s, 0, 1, 0, 1, &v);  // the raw 32 bits
  seed_vector(in, static_cast<uint32_t>(v));
}

// ---------------------------------------------------------------- dropout
void validate(const DropoutOp& op, const Interpreter& in) {
  const Check c{"dropout"};
  c.elementwise(op.dst, "data", op.data, kOnChip, in);
  NKISIM_REQUIRE(c, op.dst.dtype() == op.data.dtype(), "dst",
                 "dtype must match data's " + std::string(name(op.data.dtype())) + ", found " +
                     std::string(name(op.dst.dtype())));
  c.scalar_or_vector("prob", op.prob, op.data.partitions(), false, in);
  if (op.prob.tile) {
    const DType pt = op.prob.tile->dtype();
    if (is_int(op.data.dtype()))
      NKISIM_REQUIRE(c, pt == DType::float32, "prob",
                     "must be float32 when data is an integer type, found " + std::string(name(pt)));
    else
      NKISIM_REQUIRE(c, is_float(pt), "prob",
                     "must be a float type, found " + std::string(name(pt)));
  }
}

void execute(DropoutOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows d = rows_of(op.dst), s = rows_of(op.data);
  std::vector<float> prob(d.nrows);
  operand_rows(op.prob, 0, d.nrows, prob.data());
  const int64_t es = d.es;
  for_random_rows(in, Engine::vector, d, lane0(op.dst),
                  [&](int64_t row, int64_t c0, int64_t nc, const uint32_t* r) {
                    Scratch<std::byte> raw(static_cast<size_t>(nc * es));
                    gather_raw(s, row, 1, c0, nc, raw);
                    const float p = prob[row];
                    for (int64_t i = 0; i < nc; ++i)
                      if (!(unit(r[i]) >= p)) std::memset(raw + i * es, 0, static_cast<size_t>(es));
                    scatter_raw(d, row, 1, c0, nc, raw);
                  });
}

}  // namespace nkisim
