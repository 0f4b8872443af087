// Dynamic access patterns (issue 9): views whose start depends on a register or a tensor value
// (.ap(scalar_offset=), t[nl.ds(register, n)]) are resolved when the instruction runs, and checked
// then: oob_mode.error raises naming the value, oob_mode.skip skips the transfer. Vector offsets
// (gather/scatter rows) are left to the DMA instructions (src/isa/dma_copy.cpp et al.).
#include <string>

#include "nkisim/errors.hpp"
#include "nkisim/interpreter.hpp"

namespace nkisim {

namespace {
// Every tensor a parameter holds, as mutable pointers.
template <class F>
void for_tensors(const InstrDecl& d, void* op, F&& f) {
  for (uint8_t i : d.operands) {
    const ParamDecl& p = d.params[i];
    switch (p.kind) {
      case Kind::tensor: f(p, &InstrDecl::get<Tensor>(op, p)); break;
      case Kind::opt_tensor: {
        auto& o = InstrDecl::get<std::optional<Tensor>>(op, p);
        if (o) f(p, &*o);
        break;
      }
      case Kind::operand: {
        auto& o = InstrDecl::get<Operand>(op, p);
        if (o.tile) f(p, &*o.tile);
        break;
      }
      case Kind::tensors:
        for (Tensor& t : InstrDecl::get<std::vector<Tensor>>(op, p)) f(p, &t);
        break;
      default: break;
    }
  }
}

bool takes_vector_offsets(const InstrDecl& d) {
  return d.name == "dma_copy" || d.name == "dma_compute" || d.name == "dma_transpose";
}
}  // namespace

bool Interpreter::any_dynamic(const InstrDecl& d, void* op) {
  bool any = false;
  for_tensors(d, op, [&](const ParamDecl&, Tensor* t) { any |= t->is_dynamic(); });
  return any;
}

OobMode Interpreter::oob_mode_of(const InstrDecl& d, const void* op) {
  const ParamDecl* p = d.find("oob_mode");
  return p ? static_cast<OobMode>(InstrDecl::get<uint8_t>(op, *p)) : OobMode::error;
}

int64_t Interpreter::dynamic_value(const DynamicOffset& dy, std::string_view instr,
                                   std::string_view param) const {
  if (dy.scalar_reg.is_reg()) return read_register(dy.scalar_reg, instr, param);
  const Tensor& t = *dy.scalar_tensor;
  const std::string at = "nki.isa." + std::string(instr) + ": " + std::string(param) + ": ";
  if (t.on_chip() && t.allocation().core != core_id_)
    throw ValidationError(at + "scalar_offset " + t.describe() + " lives on core " +
                          std::to_string(t.allocation().core) + ", this instruction runs on core " +
                          std::to_string(core_id_));
  int64_t v = 0;
  to_i64(t.dtype(), t.strided().base, &v, 1, false);
  return v;
}

bool Interpreter::resolve_dynamic(const InstrDecl& d, void* op, DynamicRestore& restore) {
  const OobMode oob = oob_mode_of(d, op);
  bool skip = false;
  struct Partial {
    Tensor* t;
    int64_t first, count, rows;
  };
  std::vector<Partial> partial;
  for_tensors(d, op, [&](const ParamDecl& p, Tensor* t) {
    if (skip || !t->is_dynamic()) return;
    const DynamicOffset& dy = *t->dynamic();
    if (dy.vector) {
      if (!takes_vector_offsets(d))
        throw ValidationError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) +
                              ": a vector_offset (indirect) access pattern is only supported by "
                              "the DMA instructions dma_copy, dma_transpose and dma_compute");
      return;  // the instruction gathers/scatters row by row
    }
    const int64_t v = dynamic_value(dy, d.name, p.name);
    std::optional<Tensor> r = t->moved(v);
    if (!r) {
      if (oob == OobMode::skip) {
        // Skip exactly the rows (first-dim entries) outside the tensor: keep the in-bound run
        // and the matching rows of every other operand with as many rows.
        int64_t first = 0, count = 0;
        std::optional<Tensor> part = t->moved_rows(v, &first, &count);
        if (!part) {
          skip = true;
          return;
        }
        partial.push_back({t, first, count, t->dim(0).count});
        restore.saved.emplace_back(t, *t);
        *t = std::move(*part);
        return;
      }
      const std::string origin = dy.origin.empty() ? ".ap(scalar_offset=...)" : dy.origin;
      throw OutOfBoundsError(
          "nki.isa." + std::string(d.name) + ": " + std::string(p.name) + ": the dynamic offset " +
          origin + " has the value " + std::to_string(v) + ", which moves the view outside " +
          t->describe() + " (dimension " + std::to_string(dy.indirect_dim) + " has " +
          std::to_string(dy.extent) + " entries" +
          (dy.max_value >= 0 ? "; valid values are 0.." + std::to_string(dy.max_value) : "") +
          "); nothing was read or written" +
          (d.find("oob_mode") ? " (oob_mode=oob_mode.skip skips such transfers)" : ""));
    }
    restore.saved.emplace_back(t, *t);
    *t = std::move(*r);
  });
  if (skip) return false;
  for (const Partial& pt : partial) {
    bool ok = true;
    for_tensors(d, op, [&](const ParamDecl&, Tensor* o) {
      if (!ok || o == pt.t) return;
      if (o->dim(0).count != pt.rows) {
        ok = false;
        return;
      }
      std::vector<IndexItem> key(o->ndim(), IndexItem{IndexItem::all});
      key[0] = IndexItem{IndexItem::slice, pt.first, pt.first + pt.count, 1};
      restore.saved.emplace_back(o, *o);
      *o = o->index(key);
    });
    if (!ok) return false;  // the other operands do not have one row per row: skip it all
  }
  return true;
}

}  // namespace nkisim
