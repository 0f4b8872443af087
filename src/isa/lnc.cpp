// nisa.core_barrier and nisa.sendrecv: the two cores of an LNC=2 launch meet (src/launch.cpp).
#include "isa/common.hpp"
#include "nkisim/launch.hpp"

namespace nkisim {
using namespace isa;

namespace {
Launch& launch_of(const Check& c, const Interpreter& in, const char* what) {
  Launch* l = in.launch();
  if (l == nullptr || l->size() < 2)
    c.fail("", std::string(what) + " needs an LNC=2 launch (kernel[2]); this program runs alone "
                                   "(kernel[1] or no grid)");
  return *l;
}
}  // namespace

void validate(const CoreBarrierOp& op, const Interpreter& in) {
  const Check c{"core_barrier"};
  // The docstring asks for shared HBM; nki-library's shard-on-I MoE kernel also synchronises on
  // an SBUF tile (the block counter of its dynamic loop), which 0.3.0 accepts.
  NKISIM_REQUIRE(c, op.data.buffer() == Buffer::shared_hbm || op.data.buffer() == Buffer::sbuf,
                 "data",
                 "must be a shared_hbm (or SBUF) tensor, the data both cores synchronise on, "
                 "found " + op.data.describe());
  NKISIM_REQUIRE(c, op.cores == std::vector<int64_t>({0, 1}), "cores",
                 "only cores=(0, 1) is supported in NKI 0.3.0");
  launch_of(c, in, "core_barrier");
}

void execute(CoreBarrierOp& op, Interpreter& in) {
  in.launch()->barrier(in.core_id(), in.where());
}

void validate(const SendrecvOp& op, const Interpreter& in) {
  const Check c{"sendrecv"};
  const Launch& l = launch_of(c, in, "sendrecv");
  for (auto [p, v] : {std::pair<const char*, int64_t>{"send_to_rank", op.send_to_rank},
                      {"recv_from_rank", op.recv_from_rank}})
    NKISIM_REQUIRE(c, v >= 0 && v < l.size(), p,
                   "must be a rank of this launch (0 or 1), found " + std::to_string(v));
  NKISIM_REQUIRE(c, op.src.dtype() == op.dst.dtype(), "dst",
                 "must have src's dtype " + std::string(name(op.src.dtype())) + ", found " +
                     std::string(name(op.dst.dtype())));
  c.same_layout("dst", op.dst, "src", op.src);
  c.max_partitions("src", op.src, in.target().partitions);
  if (op.dma_engine == DmaEngine::gpsimd_dma) {
    NKISIM_REQUIRE(c, op.src.partitions() % 16 == 0, "dma_engine",
                   "gpsimd_dma needs a partition count that is a multiple of 16, found " +
                       std::to_string(op.src.partitions()));
    const int64_t es = static_cast<int64_t>(size_of(op.src.dtype()));
    const int64_t limit = es >= 4 ? 1024 : es == 2 ? 512 : 256;
    NKISIM_REQUIRE(c, op.src.free_size() * es <= limit, "dma_engine",
                   "gpsimd_dma moves at most " + std::to_string(limit) + " bytes per partition for " +
                       std::to_string(es * 8) + "-bit types, found " +
                       std::to_string(op.src.free_size() * es));
  }
}

void execute(SendrecvOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.src});
  in.launch()->sendrecv(in.core_id(), op.src, op.dst, static_cast<int>(op.send_to_rank),
                        static_cast<int>(op.recv_from_rank), op.pipe_id, in.where());
}

}  // namespace nkisim
