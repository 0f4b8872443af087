// nkisim internal: the parameter macros of ops.def, in two expansions (no include guard).
//   NKISIM_STRUCT_MEMBERS defined: each parameter becomes a member of its op struct.
//   NKISIM_PARAM_ROWS defined:     each parameter becomes a ParamDecl row (with `Self` the struct).
//   neither:                       the macros are removed again.
#if defined(NKISIM_STRUCT_MEMBERS) || defined(NKISIM_PARAM_ROWS)

#define SBUF ::nkisim::kSbuf
#define PSUM ::nkisim::kPsum
#define HBM ::nkisim::kHbm
#define ENG(e) (1u << static_cast<int>(::nkisim::Engine::e))
#define NO_ENG 0u
#define NKISIM_ROLE_IN ::nkisim::Role::in
#define NKISIM_ROLE_OUT ::nkisim::Role::out
#define NKISIM_ROLE_INOUT ::nkisim::Role::inout
#define NKISIM_ROLE_NONE ::nkisim::Role::none

#if defined(NKISIM_STRUCT_MEMBERS)
#define T(n, role, b) Tensor n;
#define T_OPT(n, role, b) std::optional<Tensor> n;
#define OPND(n, b) Operand n;
#define OPND_D(n, b, c, py) Operand n = c;
#define ALU(n) AluOp n = AluOp::none;
#define ALU_D(n, c, py) AluOp n = AluOp::c;
#define ACT(n) ActFn n = ActFn::copy;
#define ENUM(n, E, m) enum_##E n = enum_##E::m;
#define BOOL(n, c, py) bool n = c;
#define OBOOL(n) std::optional<bool> n;
#define INT(n, c) int64_t n = c;
#define INT_REQ(n) int64_t n = 0;
#define SCALAR(n) Scalar n;
#define INTS(n) std::vector<int64_t> n;
#define INTS_N(n) std::vector<int64_t> n;  // the same, default None
#define PATTERN(n) std::vector<std::pair<int64_t, int64_t>> n;
#define AXES(n) std::vector<int> n;
#define INT_R(n) int64_t n = 0;
#define INTS_R(n) std::vector<int64_t> n;
#define REG(n) RegRef n;
#define REG_OR_INT(n) RegRef n;
#define TENSORS(n, role, b) std::vector<Tensor> n;
#define AXES_OPT(n) std::vector<int> n;
#define FLOATS_OPT(n) std::vector<double> n;
#define OINT(n) std::optional<int64_t> n;
#else
#define NKISIM_ROW(n, kind, role, b, dflt, eid) \
  ::nkisim::ParamDecl{#n, ::nkisim::Kind::kind, role, b, dflt, ::nkisim::EnumId::eid, offsetof(Self, n)},
#define T(n, role, b) NKISIM_ROW(n, tensor, NKISIM_ROLE_##role, b, "", count_)
#define T_OPT(n, role, b) NKISIM_ROW(n, opt_tensor, NKISIM_ROLE_##role, b, "None", count_)
#define OPND(n, b) NKISIM_ROW(n, operand, ::nkisim::Role::in, b, "", count_)
#define OPND_D(n, b, c, py) NKISIM_ROW(n, operand, ::nkisim::Role::in, b, #py, count_)
#define ALU(n) NKISIM_ROW(n, alu, ::nkisim::Role::none, 0, "", count_)
#define ALU_D(n, c, py) NKISIM_ROW(n, alu, ::nkisim::Role::none, 0, #py, count_)
#define ACT(n) NKISIM_ROW(n, act, ::nkisim::Role::none, 0, "", count_)
#define ENUM(n, E, m) NKISIM_ROW(n, enum_, ::nkisim::Role::none, 0, #E "." #m, E)
#define BOOL(n, c, py) NKISIM_ROW(n, boolean, ::nkisim::Role::none, 0, #py, count_)
#define OBOOL(n) NKISIM_ROW(n, opt_bool, ::nkisim::Role::none, 0, "None", count_)
#define INT(n, c) NKISIM_ROW(n, integer, ::nkisim::Role::none, 0, #c, count_)
#define INT_REQ(n) NKISIM_ROW(n, integer, ::nkisim::Role::none, 0, "", count_)
#define SCALAR(n) NKISIM_ROW(n, scalar, ::nkisim::Role::none, 0, "", count_)
#define INTS(n) NKISIM_ROW(n, ints, ::nkisim::Role::none, 0, "()", count_)
#define INTS_N(n) NKISIM_ROW(n, ints, ::nkisim::Role::none, 0, "None", count_)
#define PATTERN(n) NKISIM_ROW(n, pattern, ::nkisim::Role::none, 0, "", count_)
#define AXES(n) NKISIM_ROW(n, axes, ::nkisim::Role::none, 0, "", count_)
#define INT_R(n) NKISIM_ROW(n, integer, ::nkisim::Role::none, 0, "", count_)
#define INTS_R(n) NKISIM_ROW(n, ints, ::nkisim::Role::none, 0, "", count_)
#define REG(n) NKISIM_ROW(n, reg, ::nkisim::Role::none, 0, "", count_)
#define REG_OR_INT(n) NKISIM_ROW(n, reg_or_int, ::nkisim::Role::none, 0, "", count_)
#define TENSORS(n, role, b) NKISIM_ROW(n, tensors, NKISIM_ROLE_##role, b, "", count_)
#define AXES_OPT(n) NKISIM_ROW(n, axes, ::nkisim::Role::none, 0, "None", count_)
#define FLOATS_OPT(n) NKISIM_ROW(n, floats, ::nkisim::Role::none, 0, "None", count_)
#define OINT(n) NKISIM_ROW(n, opt_integer, ::nkisim::Role::none, 0, "None", count_)
#endif

#else
#undef SBUF
#undef PSUM
#undef HBM
#undef ENG
#undef NO_ENG
#undef NKISIM_ROLE_IN
#undef NKISIM_ROLE_OUT
#undef NKISIM_ROLE_INOUT
#undef NKISIM_ROLE_NONE
#undef NKISIM_ROW
#undef T
#undef T_OPT
#undef OPND
#undef OPND_D
#undef ALU
#undef ALU_D
#undef ACT
#undef ENUM
#undef BOOL
#undef OBOOL
#undef INT
#undef INT_REQ
#undef SCALAR
#undef INTS
#undef INTS_N
#undef PATTERN
#undef AXES
#undef INT_R
#undef INTS_R
#undef REG
#undef REG_OR_INT
#undef TENSORS
#undef AXES_OPT
#undef FLOATS_OPT
#undef OINT
#endif
