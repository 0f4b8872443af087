// The op-graph recorder and replayer (see include/nkisim/opgraph.hpp for the file format).
// Everything here is driven by the instruction declarations: no per-instruction code.
#include "nkisim/opgraph.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "nkisim/errors.hpp"
#include "nkisim/interpreter.hpp"
#include "nkisim/target.hpp"

namespace nkisim {

namespace {

constexpr int kFormatVersion = 1;

// ---------------------------------------------------------------- tokens
std::string enc_str(std::string_view s) {
  std::string out = "'";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '=' || c == '\'') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// An on-chip allocation's "alloc" line (byte offset -1: stored outside the map).
std::string alloc_line(int64_t id, const Allocation& a) {
  std::ostringstream s;
  s << "alloc " << id << " " << a.core << " " << buffer_name(a.buffer) << " " << a.start_partition
    << " " << (a.outside ? -1 : a.byte_offset) << " " << a.num_partitions << " " << a.bytes << " "
    << name(a.fill_dtype) << " " << enc_str(a.name);
  return s.str();
}

std::string enc_double(double v) {
  char buf[64];
  if (std::isnan(v)) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    std::snprintf(buf, sizeof buf, "n%016llx", static_cast<unsigned long long>(bits));
  } else {
    std::snprintf(buf, sizeof buf, "%a", v);
  }
  return buf;
}

std::string alu_token(uint8_t v) {
  if (v < static_cast<int>(AluOp::count_)) return std::string(alu_name(static_cast<AluOp>(v)));
  return std::to_string(v);
}
std::string act_token(uint8_t v) {
  if (v < static_cast<int>(ActFn::count_)) return std::string(act_name(static_cast<ActFn>(v)));
  return std::to_string(v);
}
std::string enum_token(EnumId e, uint8_t v) {
  if (const EnumMember* m = enum_member(e, v)) return std::string(m->name);
  return std::to_string(v);
}

const char* wstate_name(Allocation::WriteState w) {
  switch (w) {
    case Allocation::WriteState::none: return "none";
    case Allocation::WriteState::some: return "some";
    case Allocation::WriteState::all: return "all";
  }
  return "all";
}


std::string enc_tensor(const Tensor& t, int64_t id) {
  std::string s = "@" + std::to_string(id) + ":" + std::string(name(t.dtype())) + ":" +
                  std::to_string(t.start_partition()) + ":" + std::to_string(t.element_offset()) +
                  ":" + (t.is_base() ? "1" : "0") + ":";
  for (int i = 0; i < t.ndim(); ++i) {
    if (i) s += ",";
    s += std::to_string(t.dim(i).step) + "x" + std::to_string(t.dim(i).count);
  }
  return s;
}

template <class V>
std::string enc_list(const V& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + ")";
}

}  // namespace

// ================================================================ Recorder
Recorder::Recorder(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr)
    throw Error("op-graph recorder: cannot open '" + path + "' for writing: " + std::strerror(errno));
  line("nkisim-opgraph " + std::to_string(kFormatVersion));
}

Recorder::~Recorder() {
  try {
    finish();
  } catch (...) {
  }
  if (f_) std::fclose(f_);
}

void Recorder::fail(const std::string& m) {
  if (error_.empty()) error_ = m;
}

void Recorder::line(const std::string& s) {
  if (f_ == nullptr) return;
  if (std::fwrite(s.data(), 1, s.size(), f_) != s.size() || std::fputc('\n', f_) == EOF)
    fail("op-graph recorder: cannot write '" + path_ + "': " + std::strerror(errno));
}

void Recorder::block(const std::string& head, const std::byte* p, int64_t n, int64_t stride, int rows) {
  line(head);
  if (f_ == nullptr) return;
  for (int r = 0; r < rows; ++r)
    if (n > 0 && std::fwrite(p + r * stride, 1, static_cast<size_t>(n), f_) != static_cast<size_t>(n))
      fail("op-graph recorder: cannot write '" + path_ + "': " + std::strerror(errno));
  std::fputc('\n', f_);
}

void Recorder::on_allocate(const Allocation& a, int core) {
  std::lock_guard<std::mutex> g(mu_);
  if (finished_) return;
  if (!target_written_) {  // a kernel may allocate before (or without) running any instruction
    if (const Interpreter* in = Interpreter::current(); in != nullptr && in->core_id() == core) {
      line("target " + std::string(in->target().name));
      target_written_ = true;
    }
  }
  const int64_t id = next_id_++;
  on_chip_[&a] = id;
  line(alloc_line(id, a));
}

void Recorder::on_free(const Allocation& a, int core) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = on_chip_.find(&a);
  if (it == on_chip_.end()) return;
  if (!finished_) line("free " + std::to_string(it->second));
  on_chip_.erase(it);
}

int64_t Recorder::touch(const Tensor& t) {
  const Allocation& a = t.allocation();
  if (t.on_chip()) {
    auto it = on_chip_.find(&a);
    if (it != on_chip_.end()) return it->second;
    // Allocated before the recorder was attached: record its placement, contents and written
    // state as they are now.
    const int64_t id = next_id_++;
    on_chip_[&a] = id;
    line(alloc_line(id, a));
    a.ensure_filled();
    block("data " + std::to_string(id) + " " + std::to_string(a.bytes * a.num_partitions), a.data,
          a.bytes, a.partition_stride, a.num_partitions);
    line("written " + std::to_string(id) + " " + wstate_name(a.wstate));
    if (a.wstate == Allocation::WriteState::some)
      block("shadow " + std::to_string(id) + " " + std::to_string(a.bytes * a.num_partitions),
            reinterpret_cast<const std::byte*>(a.written), a.bytes, a.partition_stride,
            a.num_partitions);
    return id;
  }
  auto it = hbm_ids_.find(&a);
  if (it != hbm_ids_.end()) return it->second;
  const int64_t id = next_id_++;
  hbm_ids_[&a] = id;
  hbm_.emplace_back(id, t.allocation_ptr());
  line("hbm " + std::to_string(id) + " " + std::string(buffer_name(a.buffer)) + " " +
       std::to_string(a.bytes) + " " + (a.read_only ? "1" : "0") + " " + enc_str(a.name));
  block("data " + std::to_string(id) + " " + std::to_string(a.bytes), a.data, a.bytes, 0, 1);
  return id;
}

void Recorder::before_instruction(const Event& e) {
  std::lock_guard<std::mutex> g(mu_);
  if (finished_) return;
  const Interpreter& in = e.core;
  if (!target_written_) {
    line("target " + std::string(in.target().name));
    target_written_ = true;
  }
  if (cores_.insert(in.core_id()).second)
    line("core " + std::to_string(in.core_id()) + " " + std::to_string(in.num_cores()));
  const void* op = &e.op;
  // Allocations first (they may need lines and data blocks of their own).
  std::vector<int64_t> ids(e.decl.params.size(), -1);
  for (size_t i = 0; i < e.decl.params.size(); ++i)
    if (const Tensor* t = tensor_param(op, e.decl.params[i])) ids[i] = touch(*t);
  std::string s = "instr " + std::to_string(in.core_id()) + " " + std::string(e.decl.name) + " " +
                  enc_str(e.op.name);
  for (size_t i = 0; i < e.decl.params.size(); ++i) {
    const ParamDecl& p = e.decl.params[i];
    s += " " + std::string(p.name) + "=";
    switch (p.kind) {
      case Kind::tensor: s += enc_tensor(InstrDecl::get<Tensor>(op, p), ids[i]); continue;
      case Kind::opt_tensor: {
        const auto& o = InstrDecl::get<std::optional<Tensor>>(op, p);
        s += o ? enc_tensor(*o, ids[i]) : "-";
        continue;
      }
      case Kind::operand: {
        const Operand& o = InstrDecl::get<Operand>(op, p);
        s += !o.present ? "-" : o.tile ? enc_tensor(*o.tile, ids[i]) : "#" + enc_double(o.value);
        continue;
      }
      case Kind::alu: s += alu_token(InstrDecl::get<uint8_t>(op, p)); continue;
      case Kind::act: s += act_token(InstrDecl::get<uint8_t>(op, p)); continue;
      case Kind::enum_: s += enum_token(p.enum_id, InstrDecl::get<uint8_t>(op, p)); continue;
      case Kind::boolean: s += InstrDecl::get<bool>(op, p) ? "1" : "0"; continue;
      case Kind::opt_bool: {
        const auto& o = InstrDecl::get<std::optional<bool>>(op, p);
        s += !o ? "-" : *o ? "1" : "0";
        continue;
      }
      case Kind::integer: s += std::to_string(InstrDecl::get<int64_t>(op, p)); continue;
      case Kind::opt_integer: {
        const auto& o = InstrDecl::get<std::optional<int64_t>>(op, p);
        s += o ? std::to_string(*o) : "-";
        continue;
      }
      case Kind::scalar: {
        const Scalar& v = InstrDecl::get<Scalar>(op, p);
        s += (v.is_float ? "f" : "i") + enc_double(v.value);
        continue;
      }
      case Kind::ints: s += enc_list(InstrDecl::get<std::vector<int64_t>>(op, p)); continue;
      case Kind::axes: s += enc_list(InstrDecl::get<std::vector<int>>(op, p)); continue;
      case Kind::pattern: {
        const auto& v = InstrDecl::get<std::vector<std::pair<int64_t, int64_t>>>(op, p);
        s += "(";
        for (size_t j = 0; j < v.size(); ++j)
          s += (j ? "," : "") + std::to_string(v[j].first) + ":" + std::to_string(v[j].second);
        s += ")";
        continue;
      }
    }
    // A parameter kind added to decl.hpp without support here: never write a file that cannot
    // be replayed.
    const std::string m = "op-graph recorder: nki.isa." + std::string(e.decl.name) + ": parameter '" +
                          std::string(p.name) + "' has parameter kind #" +
                          std::to_string(static_cast<int>(p.kind)) +
                          ", which the recorder cannot serialize (add it to src/opgraph.cpp)";
    fail(m);
    throw UnsupportedError(m);
  }
  line(s);
  ++instructions_;
}

void Recorder::finish() {
  std::vector<std::pair<int64_t, AllocationPtr>> release;  // released after unlocking (a caller's
  std::unique_lock<std::mutex> g(mu_);                      // array may need the GIL to go)
  if (!finished_) {
    finished_ = true;
    if (error_.empty()) {
      for (const auto& [id, a] : hbm_)
        block("final " + std::to_string(id) + " " + std::to_string(a->bytes), a->data, a->bytes, 0, 1);
      line("end " + std::to_string(instructions_));
    }
    release.swap(hbm_);
    hbm_ids_.clear();
    if (f_ && std::fclose(f_) != 0) fail("op-graph recorder: cannot write '" + path_ + "'");
    f_ = nullptr;
  }
  const std::string err = error_;
  g.unlock();
  release.clear();
  if (!err.empty()) throw Error(err);
}

uint64_t Recorder::instructions() const {
  std::lock_guard<std::mutex> g(mu_);
  return instructions_;
}

// ================================================================ replay
std::string ReplayResult::summary() const {
  std::ostringstream s;
  s << "replayed " << instructions << " instructions on " << cores << (cores == 1 ? " core" : " cores")
    << " (" << target << "): " << hbm_tensors << " HBM tensors, " << hbm_bytes << " bytes, ";
  if (bit_exact()) {
    s << "bit-exact";
  } else {
    s << mismatches.size() << " mismatching:";
    for (const auto& m : mismatches)
      s << " '" << m.name << "' (id " << m.id << ") first differs at byte " << m.first_offset << ";";
  }
  return s.str();
}

namespace {

class Reader {
 public:
  Reader(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {}

  [[noreturn]] void error(const std::string& m) const {
    throw Error("op graph '" + path_ + "', line " + std::to_string(line_) + ": " + m);
  }
  // The next line split into tokens; false at the end of the file.
  bool next(std::vector<std::string_view>& tok) {
    tok.clear();
    if (pos_ >= text_.size()) return false;
    ++line_;
    const size_t nl = text_.find('\n', pos_);
    if (nl == std::string::npos) error("the file ends in the middle of a line (truncated?)");
    std::string_view l(text_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    size_t i = 0;
    while (i < l.size()) {
      while (i < l.size() && l[i] == ' ') ++i;
      size_t j = i;
      while (j < l.size() && l[j] != ' ') ++j;
      if (j > i) tok.push_back(l.substr(i, j - i));
      i = j;
    }
    if (tok.empty()) error("empty line");
    return true;
  }
  // The raw bytes of a data block of n bytes that follows the current line.
  const std::byte* data(int64_t n) {
    if (n < 0) error("negative byte count");
    if (static_cast<uint64_t>(n) + 1 > text_.size() - pos_)
      error("the data block of " + std::to_string(n) + " bytes is cut short (truncated file?)");
    const std::byte* p = reinterpret_cast<const std::byte*>(text_.data() + pos_);
    if (text_[pos_ + static_cast<size_t>(n)] != '\n')
      error("the data block of " + std::to_string(n) + " bytes is not followed by a newline");
    pos_ += static_cast<size_t>(n) + 1;
    line_ += static_cast<int>(std::count(reinterpret_cast<const char*>(p),
                                         reinterpret_cast<const char*>(p) + n, '\n')) + 1;
    return p;
  }
  int line() const { return line_; }
  size_t size() const { return text_.size(); }
  void rewind() {
    pos_ = 0;
    line_ = 0;
  }

  int64_t integer(std::string_view s, const char* what) const {
    if (s.empty()) error(std::string("empty ") + what);
    std::string t(s);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno != 0 || end != t.c_str() + t.size())
      error(std::string("bad ") + what + " '" + t + "' (an integer was expected)");
    return v;
  }
  double real(std::string_view s, const char* what) const {
    std::string t(s);
    if (t.size() == 17 && t[0] == 'n') {  // a NaN by its bits
      char* end = nullptr;
      const unsigned long long bits = std::strtoull(t.c_str() + 1, &end, 16);
      if (end != t.c_str() + t.size()) error(std::string("bad ") + what + " '" + t + "'");
      double v;
      std::memcpy(&v, &bits, 8);
      return v;
    }
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size())
      error(std::string("bad ") + what + " '" + t + "' (a number was expected)");
    return v;
  }
  std::string str(std::string_view s) const {
    if (s.empty() || s[0] != '\'') error("bad string token '" + std::string(s) + "'");
    std::string out;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] != '%') {
        out += s[i];
        continue;
      }
      if (i + 2 >= s.size()) error("bad escape in '" + std::string(s) + "'");
      auto hexv = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        error("bad escape in '" + std::string(s) + "'");
      };
      out += static_cast<char>(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
      i += 2;
    }
    return out;
  }
  DType dtype(std::string_view s) const {
    try {
      return dtype_from_name(s);
    } catch (const std::exception&) {
      error("unknown dtype '" + std::string(s) + "'");
    }
  }
  Buffer buffer(std::string_view s) const {
    for (Buffer b : {Buffer::sbuf, Buffer::psum, Buffer::private_hbm, Buffer::shared_hbm})
      if (buffer_name(b) == s) return b;
    error("unknown buffer '" + std::string(s) + "'");
  }

 private:
  std::string path_;
  std::string text_;
  size_t pos_ = 0;
  int line_ = 0;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  size_t i = 0;
  while (true) {
    const size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

// "(a,b,...)" -> its items
std::vector<std::string_view> list_items(const Reader& r, std::string_view s, const std::string& what) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') r.error("bad list for " + what + ": '" + std::string(s) + "'");
  return split(s.substr(1, s.size() - 2), ',');
}

class Replayer {
 public:
  explicit Replayer(Reader& r) : r_(r) {}

  ReplayResult run() {
    prescan();
    r_.rewind();
    std::vector<std::string_view> tok;
    if (!r_.next(tok)) r_.error("empty file (not an op graph)");
    if (tok.size() != 2 || tok[0] != "nkisim-opgraph") r_.error("not an nkisim op graph (no 'nkisim-opgraph' header)");
    if (r_.integer(tok[1], "version") != kFormatVersion)
      r_.error("format version " + std::string(tok[1]) + " is not supported (this build reads " +
               std::to_string(kFormatVersion) + ")");
    bool ended = false;
    while (r_.next(tok)) {
      if (ended) r_.error("content after 'end'");
      const std::string_view k = tok[0];
      if (k == "target" || k == "core") {
        // read by prescan()
      } else if (k == "alloc") {
        on_alloc(tok);
      } else if (k == "free") {
        want(tok, 2);
        const int64_t id = r_.integer(tok[1], "id");
        if (on_chip_.erase(id) == 0) r_.error("free of unknown allocation " + std::to_string(id));
      } else if (k == "hbm") {
        on_hbm(tok);
      } else if (k == "data" || k == "shadow") {
        on_data(tok, k == "shadow");
      } else if (k == "written") {
        want(tok, 3);
        Allocation& a = onchip(r_.integer(tok[1], "id"));
        if (tok[2] == "none") a.wstate = Allocation::WriteState::none;
        else if (tok[2] == "some") a.wstate = Allocation::WriteState::some;
        else if (tok[2] == "all") a.wstate = Allocation::WriteState::all;
        else r_.error("bad written state '" + std::string(tok[2]) + "'");
      } else if (k == "instr") {
        on_instr(tok);
      } else if (k == "final") {
        on_final(tok);
      } else if (k == "end") {
        want(tok, 2);
        const int64_t n = r_.integer(tok[1], "instruction count");
        if (static_cast<uint64_t>(n) != res_.instructions)
          r_.error("the file declares " + std::to_string(n) + " instructions but holds " +
                   std::to_string(res_.instructions));
        ended = true;
      } else {
        r_.error("unknown record '" + std::string(k) + "'");
      }
    }
    if (!ended) r_.error("no 'end' record: the file is truncated (or the recorder was not finished)");
    res_.cores = static_cast<int>(cores_.size());
    return std::move(res_);
  }

 private:
  // The target and the core count (allocations may come before the first instruction that
  // names them), and the file's structure: a truncated file fails before anything runs.
  void prescan() {
    std::vector<std::string_view> tok;
    if (!r_.next(tok)) r_.error("empty file (not an op graph)");
    if (tok.size() != 2 || tok[0] != "nkisim-opgraph") r_.error("not an nkisim op graph (no 'nkisim-opgraph' header)");
    uint64_t instrs = 0;
    while (r_.next(tok)) {
      const std::string_view k = tok[0];
      if (k == "target") {
        want(tok, 2);
        if (target_ != nullptr) r_.error("a second 'target' record");
        try {
          target_ = &Target::from_name(tok[1]);
        } catch (const std::exception& e) {
          r_.error(e.what());
        }
        res_.target = std::string(target_->name);
      } else if (k == "core") {
        want(tok, 3);
        const int64_t c = r_.integer(tok[1], "core"), n = r_.integer(tok[2], "core count");
        if (c < 0 || n < 1 || c >= n || n > 64) r_.error("bad core " + std::to_string(c) + " of " + std::to_string(n));
        if (num_cores_ == 0) num_cores_ = static_cast<int>(n);
        else if (num_cores_ != n) r_.error("inconsistent core counts");
      } else if (k == "data" || k == "shadow" || k == "final") {
        want(tok, 3);
        r_.data(r_.integer(tok[2], "bytes"));
      } else if (k == "instr") {
        ++instrs;
      }
    }
    // No target: the recorder writes one before the first instruction, so this graph has only
    // allocations (made without an interpreter to ask). The largest SBUF holds them all.
    if (target_ == nullptr) {
      if (instrs > 0) r_.error("the file has instructions but no 'target' record");
      target_ = &Target::get(Gen::gen4);
      res_.target = std::string(target_->name);
    }
  }

  void want(const std::vector<std::string_view>& tok, size_t n) {
    if (tok.size() != n)
      r_.error("'" + std::string(tok[0]) + "' takes " + std::to_string(n - 1) + " fields, found " +
               std::to_string(tok.size() - 1));
  }

  Interpreter& core(int64_t c) {
    if (c < 0 || c >= 64) r_.error("bad core " + std::to_string(c));
    auto it = cores_.find(static_cast<int>(c));
    if (it != cores_.end()) return *it->second;
    const int n = std::max<int>(num_cores_, static_cast<int>(c) + 1);
    auto& in = cores_[static_cast<int>(c)];
    in = std::make_unique<Interpreter>(*target_, static_cast<int>(c), n);
    return *in;
  }

  Allocation& onchip(int64_t id) {
    auto it = on_chip_.find(id);
    if (it == on_chip_.end()) r_.error("unknown on-chip allocation " + std::to_string(id));
    return *it->second;
  }
  AllocationPtr any(int64_t id) {
    if (auto it = on_chip_.find(id); it != on_chip_.end()) return it->second;
    if (auto it = hbm_.find(id); it != hbm_.end()) return it->second;
    r_.error("unknown allocation " + std::to_string(id) + " (freed, or never recorded)");
  }

  void on_alloc(const std::vector<std::string_view>& tok) {
    want(tok, 10);
    const int64_t id = r_.integer(tok[1], "id");
    Interpreter& in = core(r_.integer(tok[2], "core"));
    const Buffer b = r_.buffer(tok[3]);
    if (!is_on_chip(b)) r_.error("'alloc' is for sbuf or psum");
    const int64_t p0 = r_.integer(tok[4], "start partition"), off = r_.integer(tok[5], "byte offset");
    const int64_t np = r_.integer(tok[6], "partitions"), bytes = r_.integer(tok[7], "bytes");
    const DType dt = r_.dtype(tok[8]);
    const std::string nm = r_.str(tok[9]);
    if (on_chip_.count(id) || hbm_.count(id)) r_.error("allocation id " + std::to_string(id) + " used twice");
    if (np < 1 || np > target_->partitions) r_.error("bad partition count " + std::to_string(np));
    Memory& m = b == Buffer::psum ? in.psum() : in.sbuf();
    try {
      // Byte offset -1: the tensor had storage of its own (outside a full map).
      on_chip_[id] = off == -1 ? m.allocate_outside(static_cast<int>(np), bytes, dt, nm)
                               : m.allocate(static_cast<int>(np), bytes, dt, nm, std::make_pair(p0, off));
    } catch (const std::exception& e) {
      r_.error(e.what());
    }
  }

  void on_hbm(const std::vector<std::string_view>& tok) {
    want(tok, 6);
    const int64_t id = r_.integer(tok[1], "id");
    const Buffer b = r_.buffer(tok[2]);
    if (!is_hbm(b)) r_.error("'hbm' is for private_hbm or shared_hbm");
    const int64_t bytes = r_.integer(tok[3], "bytes");
    // Its contents follow in the file: a size beyond the file's is corrupt (never allocated).
    if (bytes < 0 || static_cast<uint64_t>(bytes) > r_.size()) r_.error("bad byte count " + std::to_string(bytes));
    const bool ro = r_.integer(tok[4], "read-only flag") != 0;
    if (on_chip_.count(id) || hbm_.count(id)) r_.error("allocation id " + std::to_string(id) + " used twice");
    auto a = make_hbm(b, bytes, DType::uint8, r_.str(tok[5]));
    a->read_only = ro;
    hbm_[id] = std::move(a);
  }

  void on_data(const std::vector<std::string_view>& tok, bool shadow) {
    want(tok, 3);
    const int64_t id = r_.integer(tok[1], "id"), n = r_.integer(tok[2], "bytes");
    AllocationPtr a = any(id);
    const int rows = is_hbm(a->buffer) ? 1 : a->num_partitions;
    const int64_t row = a->bytes;
    if (n != row * rows)
      r_.error("data block of " + std::to_string(n) + " bytes for allocation " + std::to_string(id) +
               " of " + std::to_string(row * rows) + " bytes");
    if (shadow && is_hbm(a->buffer)) r_.error("'shadow' is for on-chip allocations");
    const std::byte* p = r_.data(n);
    if (!shadow) a->ensure_filled();
    std::byte* dst = shadow ? reinterpret_cast<std::byte*>(a->written) : a->data;
    for (int r = 0; r < rows; ++r)
      if (row > 0) std::memcpy(dst + r * a->partition_stride, p + r * row, static_cast<size_t>(row));
  }

  Tensor tensor(std::string_view s, const std::string& what) {
    if (s.empty() || s[0] != '@') r_.error(what + ": a tensor '@id:...' was expected, found '" + std::string(s) + "'");
    const auto f = split(s.substr(1), ':');
    if (f.size() != 6) r_.error(what + ": bad tensor '" + std::string(s) + "'");
    AllocationPtr a = any(r_.integer(f[0], "allocation id"));
    const DType dt = r_.dtype(f[1]);
    const int64_t sp = r_.integer(f[2], "start partition"), off = r_.integer(f[3], "element offset");
    const bool base = r_.integer(f[4], "is_base") != 0;
    std::vector<Dim> dims;
    for (auto d : split(f[5], ',')) {
      const size_t x = d.find('x');
      if (x == std::string_view::npos) r_.error(what + ": bad dim '" + std::string(d) + "'");
      dims.push_back(Dim{r_.integer(d.substr(0, x), "step"), r_.integer(d.substr(x + 1), "count")});
    }
    if (dims.size() > static_cast<size_t>(kMaxDims)) r_.error(what + ": too many dims");
    try {
      return Tensor::from_layout(std::move(a), dt, sp, off, dims, base);
    } catch (const std::exception& e) {
      r_.error(what + ": " + e.what());
    }
  }

  template <class E>
  uint8_t named(std::string_view s, int count, std::string_view (*nm)(E), const std::string& what) {
    for (int v = 0; v < count; ++v)
      if (nm(static_cast<E>(v)) == s) return static_cast<uint8_t>(v);
    const int64_t v = r_.integer(s, what.c_str());
    if (v < 0 || v > 255) r_.error(what + ": bad value");
    return static_cast<uint8_t>(v);
  }

  void fill(const InstrDecl& d, void* op, const std::unordered_map<std::string_view, std::string_view>& vals) {
    for (const ParamDecl& p : d.params) {
      auto it = vals.find(p.name);
      if (it == vals.end()) {
        // Recorded before an optional parameter existed: its default. A required one is missing.
        if (p.required() || p.kind == Kind::tensor)
          r_.error("nki.isa." + std::string(d.name) + ": the required parameter '" +
                   std::string(p.name) + "' is missing");
        continue;
      }
      const std::string_view v = it->second;
      const std::string what = std::string(d.name) + ": " + std::string(p.name);
      switch (p.kind) {
        case Kind::tensor: InstrDecl::get<Tensor>(op, p) = tensor(v, what); continue;
        case Kind::opt_tensor:
          if (v == "-") InstrDecl::get<std::optional<Tensor>>(op, p).reset();
          else InstrDecl::get<std::optional<Tensor>>(op, p) = tensor(v, what);
          continue;
        case Kind::operand: {
          Operand& o = InstrDecl::get<Operand>(op, p);
          if (v == "-") o = Operand::none();
          else if (v[0] == '#') o = Operand::scalar(r_.real(v.substr(1), what.c_str()));
          else o = Operand::of(tensor(v, what));
          continue;
        }
        case Kind::alu:
          InstrDecl::get<uint8_t>(op, p) = named<AluOp>(v, static_cast<int>(AluOp::count_), alu_name, what);
          continue;
        case Kind::act:
          InstrDecl::get<uint8_t>(op, p) = named<ActFn>(v, static_cast<int>(ActFn::count_), act_name, what);
          continue;
        case Kind::enum_: {
          const EnumDecl& e = enum_decl(p.enum_id);
          bool found = false;
          for (const EnumMember& m : e.members)
            if (m.name == v) {
              InstrDecl::get<uint8_t>(op, p) = static_cast<uint8_t>(m.value);
              found = true;
            }
          if (!found) {
            const int64_t x = r_.integer(v, what.c_str());
            if (x < 0 || x > 255) r_.error(what + ": bad value");
            InstrDecl::get<uint8_t>(op, p) = static_cast<uint8_t>(x);
          }
          continue;
        }
        case Kind::boolean:
          if (v != "0" && v != "1") r_.error(what + ": 0 or 1 expected, found '" + std::string(v) + "'");
          InstrDecl::get<bool>(op, p) = v == "1";
          continue;
        case Kind::opt_bool:
          if (v != "0" && v != "1" && v != "-") r_.error(what + ": 0, 1 or - expected, found '" + std::string(v) + "'");
          if (v == "-") InstrDecl::get<std::optional<bool>>(op, p).reset();
          else InstrDecl::get<std::optional<bool>>(op, p) = v == "1";
          continue;
        case Kind::integer: InstrDecl::get<int64_t>(op, p) = r_.integer(v, what.c_str()); continue;
        case Kind::opt_integer:
          if (v == "-") InstrDecl::get<std::optional<int64_t>>(op, p).reset();
          else InstrDecl::get<std::optional<int64_t>>(op, p) = r_.integer(v, what.c_str());
          continue;
        case Kind::scalar: {
          if (v.empty() || (v[0] != 'f' && v[0] != 'i')) r_.error(what + ": bad scalar '" + std::string(v) + "'");
          Scalar& x = InstrDecl::get<Scalar>(op, p);
          x.value = r_.real(v.substr(1), what.c_str());
          x.is_float = v[0] == 'f';
          continue;
        }
        case Kind::ints: {
          auto& out = InstrDecl::get<std::vector<int64_t>>(op, p);
          out.clear();
          for (auto x : list_items(r_, v, what)) out.push_back(r_.integer(x, what.c_str()));
          continue;
        }
        case Kind::axes: {
          auto& out = InstrDecl::get<std::vector<int>>(op, p);
          out.clear();
          for (auto x : list_items(r_, v, what)) out.push_back(static_cast<int>(r_.integer(x, what.c_str())));
          continue;
        }
        case Kind::pattern: {
          auto& out = InstrDecl::get<std::vector<std::pair<int64_t, int64_t>>>(op, p);
          out.clear();
          for (auto x : list_items(r_, v, what)) {
            const size_t c = x.find(':');
            if (c == std::string_view::npos) r_.error(what + ": bad pattern entry '" + std::string(x) + "'");
            out.emplace_back(r_.integer(x.substr(0, c), what.c_str()), r_.integer(x.substr(c + 1), what.c_str()));
          }
          continue;
        }
      }
      r_.error(what + ": parameter kind #" + std::to_string(static_cast<int>(p.kind)) +
               " cannot be replayed by this build (add it to src/opgraph.cpp)");
    }
  }

  void on_instr(const std::vector<std::string_view>& tok) {
    if (tok.size() < 4) r_.error("'instr' needs a core, an instruction name and a label");
    Interpreter& in = core(r_.integer(tok[1], "core"));
    const InstrDecl* d = find_decl(tok[2]);
    if (d == nullptr) r_.error("unknown instruction '" + std::string(tok[2]) + "' (not declared in this build)");
    const std::string label = r_.str(tok[3]);
    std::unordered_map<std::string_view, std::string_view> vals;
    for (size_t i = 4; i < tok.size(); ++i) {
      const size_t eq = tok[i].find('=');
      if (eq == std::string_view::npos) r_.error("bad parameter '" + std::string(tok[i]) + "' (name=value expected)");
      const std::string_view n = tok[i].substr(0, eq);
      if (d->find(n) == nullptr)
        r_.error("nki.isa." + std::string(d->name) + " has no parameter '" + std::string(n) + "'");
      vals[n] = tok[i].substr(eq + 1);
    }
    Interpreter::set_current(&in);
    try {
      dispatch(*d, in, label, vals);
    } catch (const Error& e) {
      Interpreter::set_current(nullptr);
      if (dynamic_cast<const UninitializedReadNotice*>(&e) == nullptr) {
        // Instruction failures keep their type's meaning but name the line.
        if (std::string_view(e.what()).rfind("op graph '", 0) == 0) throw;
        r_.error(std::string("nki.isa.") + std::string(d->name) + " failed on replay: " + e.what());
      }
    }
    Interpreter::set_current(nullptr);
    ++res_.instructions;
  }

  void dispatch(const InstrDecl& d, Interpreter& in, const std::string& label,
                const std::unordered_map<std::string_view, std::string_view>& vals) {
    switch (static_cast<OpKind>(d.kind)) {
#define NKISIM_INSTR(n, S, ...) \
  case OpKind::n: {             \
    S op;                       \
    op.name = label;            \
    fill(d, &op, vals);         \
    in.run(op);                 \
    return;                     \
  }
#include "nkisim/ops.def"
#undef NKISIM_INSTR
      case OpKind::count_: break;
    }
    r_.error("instruction kind " + std::to_string(d.kind) + " cannot be replayed");
  }

  void on_final(const std::vector<std::string_view>& tok) {
    want(tok, 3);
    const int64_t id = r_.integer(tok[1], "id"), n = r_.integer(tok[2], "bytes");
    auto it = hbm_.find(id);
    if (it == hbm_.end()) r_.error("'final' for unknown HBM allocation " + std::to_string(id));
    const Allocation& a = *it->second;
    if (n != a.bytes) r_.error("'final' block of " + std::to_string(n) + " bytes for " + std::to_string(a.bytes) + " bytes");
    const std::byte* p = r_.data(n);
    ++res_.hbm_tensors;
    res_.hbm_bytes += n;
    if (n > 0 && std::memcmp(p, a.data, static_cast<size_t>(n)) != 0) {
      int64_t i = 0;
      while (i < n && p[i] == a.data[i]) ++i;
      res_.mismatches.push_back(ReplayMismatch{id, a.name, n, i});
    }
  }

  Reader& r_;
  const Target* target_ = nullptr;
  int num_cores_ = 0;
  std::map<int, std::unique_ptr<Interpreter>> cores_;
  std::unordered_map<int64_t, AllocationPtr> on_chip_;
  std::unordered_map<int64_t, AllocationPtr> hbm_;
  ReplayResult res_;
};

}  // namespace

ReplayResult replay(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open op graph '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  Reader r(path, std::move(ss).str());
  Replayer rp(r);
  return rp.run();
}

}  // namespace nkisim
