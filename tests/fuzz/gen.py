"""Seeded random NKI kernels, as Python source, over every implemented nki.isa instruction.

generate(seed, index) -> Kernel(source, inputs, grid): the same (seed, index) always gives the same
kernel, so a failure is reproduced from two numbers. Kernels are mostly well-formed (one tile shape
per kernel, matching operands) so that instructions really execute, mutated with extreme integers
(around 2**31..2**64, negatives, zero), wrong types and out-of-range enum values in shapes,
`address=`, slices, `.ap()` patterns and offsets, reshapes, dtype views and instruction arguments.
Each statement of a kernel runs in its own try/except, so a kernel keeps going after an error and
later statements see the state an error left behind.
"""
import dataclasses
import random

# Extreme and edge integers: the values that used to crash, hang or wrap.
EXTREME = [0, -1, -2, 129, 255, 256, 2**15, 2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 4,
           2**40, 2**62, 2**63 - 8, 2**63 - 1, 2**63, 2**64, -2**31, -2**62, -2**63, -2**64]
BAD = ['"a"', "None", "1.5", "[1]", "()", "nl.float32", "True", "float('nan')"]
DTYPES = ["float32", "bfloat16", "float16", "int32", "uint8", "int8", "uint16", "int16", "uint32",
          "float8_e4m3", "float8_e5m2", "tfloat32", "bool_", "float8_e4m3fn"]
INPUT_DTYPES = ["float32", "bfloat16", "float16", "int32", "uint8", "int8", "uint16", "int16",
                "uint32"]
BUFFERS = ["nl.sbuf", "nl.psum", "nl.hbm", "nl.shared_hbm", "nl.private_hbm"]
ALU = ["nl.add", "nl.subtract", "nl.multiply", "nl.maximum", "nl.minimum", "nl.bitwise_and",
       "nl.bitwise_or", "nl.bitwise_xor", "nl.left_shift", "nl.right_shift", "nl.equal",
       "nl.not_equal", "nl.greater", "nl.less_equal", "nl.logical_and", "nl.logical_xor",
       "nl.power", "nl.abs", "nl.rsqrt", "nl.reciprocal", "nl.invert"]
ACT = ["nl.copy", "nl.exp", "nl.tanh", "nl.sigmoid", "nl.relu", "nl.gelu", "nl.silu", "nl.log",
       "nl.sqrt", "nl.rsqrt", "nl.reciprocal", "nl.square", "nl.sin", "nl.abs", "nl.sign",
       "nl.erf", "nl.softplus", "nl.mish", "nl.arctan", "nl.gelu_apprx_tanh"]
ENGINES = ["nisa.engine.unknown", "nisa.engine.vector", "nisa.engine.scalar", "nisa.engine.gpsimd",
           "nisa.engine.tensor", "nisa.engine.dma", "nisa.engine.sync"]
SCALARS = ["0.0", "1.0", "-1.5", "3", "0", "-7", "1e30", "-1e30", "1e308", "float('inf')",
           "float('-inf')", "float('nan')", "2**31", "2**63 - 1", "2**64", "-2**63", "2**100",
           "np.float32(2.5)", "np.int64(-3)", "np.uint8(200)", "True"]
INSTRUCTIONS = ["dma_copy", "tensor_copy", "memset", "iota", "tensor_tensor", "tensor_scalar",
                "activation", "activation_reduce", "tensor_reduce", "nc_matmul", "nc_transpose",
                "reciprocal"]


@dataclasses.dataclass
class Kernel:
    source: str
    inputs: list  # [(shape, dtype name)]
    grid: int     # 1 or 2 programs


class _Gen:
    def __init__(self, r):
        self.r = r
        self.lines = []
        self.tiles = []    # names of tensors that exist if their statement succeeded
        self.n = 0

    # ------------------------------------------------------------ values
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def int_(self, typical, p_extreme=0.06, p_bad=0.015):
        x = self.r.random()
        if x < p_bad:
            return self.pick(BAD)
        if x < p_bad + p_extreme:
            return str(self.pick(EXTREME))
        return str(typical)

    def dtype(self):
        return "nl." + (self.pick(DTYPES) if self.chance(0.5) else self.dtype_main)

    def tile(self):
        return self.pick(self.tiles) if self.tiles else "None"

    def scalar(self):
        if self.chance(0.02):
            return self.pick(BAD)
        return self.pick(SCALARS) if self.chance(0.4) else self.pick(["0.0", "1.0", "2.0", "-0.5"])

    def name(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, stmt, new=None):
        self.lines.append(stmt)
        if new:
            self.tiles.append(new)

    # ------------------------------------------------------------ shapes
    def shape(self):
        P, F = self.P, self.F
        k = self.r.random()
        if k < 0.6:
            dims = [P, F]
        elif k < 0.7:
            dims = [P, max(1, F // 2), 2]
        elif k < 0.8:
            dims = [self.pick([1, 2, 3, 4, 16, 32, 64, 128]), self.pick([1, 2, 3, 8, 64, 256])]
        elif k < 0.85:
            dims = [P]
        else:
            dims = [P, F]
            i = self.r.randrange(len(dims))
            dims[i] = self.pick(EXTREME)
            return "(" + ", ".join(map(str, dims)) + ")"
        return "(" + ", ".join(self.int_(d, 0.04, 0.01) for d in dims) + ")"

    # ------------------------------------------------------------ statements
    def alloc(self):
        t = self.name("t")
        buf = self.pick(BUFFERS[:2]) if self.chance(0.8) else self.pick(BUFFERS)
        extra = ""
        if self.chance(0.15):
            if self.chance(0.5):
                addr = f"({self.int_(0, 0.5)}, {self.int_(self.r.randrange(0, 4096, 4), 0.5)})"
            else:
                # A valid-looking placement inside the window the worker's guards leave free.
                addr = f"({self.r.randrange(0, 64)}, {self.r.randrange(4096, 8192, 4)})"
            extra = f", address={addr}"
        if self.chance(0.1):
            label = self.pick(['"t"', repr(t), "5", "None"])
            extra += f", name={label}"
        self.emit(f"{t} = nl.ndarray({self.shape()}, dtype={self.dtype()}, buffer={buf}{extra})", t)

    def view(self):
        if not self.tiles:
            return self.alloc()
        src = self.tile()
        v = self.name("v")
        k = self.r.random()
        if k < 0.3:
            a = self.int_(self.r.randrange(0, 4))
            b = self.int_(self.r.randrange(1, self.P + 1))
            c = self.int_(self.r.randrange(0, 4))
            d = self.int_(self.r.randrange(1, self.F + 1))
            step = f":{self.int_(self.pick([1, 1, 1, 2, 3]))}" if self.chance(0.2) else ""
            expr = f"{src}[{a}:{b}, {c}:{d}{step}]"
        elif k < 0.4:
            expr = f"{src}[{self.int_(self.r.randrange(-2, 4))}]"
        elif k < 0.45:
            expr = f"{src}[..., nl.ds({self.int_(0)}, {self.int_(self.r.randrange(1, self.F + 1))})]"
        elif k < 0.75:
            # .ap(): [[partition step, partitions], [step, num]...], offset, dtype
            pat = [f"[{self.int_(self.F)}, {self.int_(self.r.randrange(1, self.P + 1))}]"]
            for _ in range(self.r.randrange(1, 3)):
                pat.append(f"[{self.int_(self.pick([0, 1, 1, 2]), 0.12)}, "
                           f"{self.int_(self.r.randrange(1, self.F + 1), 0.12)}]")
            off = f", offset={self.int_(self.r.randrange(0, 8), 0.15)}" if self.chance(0.5) else ""
            dt = f", dtype={self.dtype()}" if self.chance(0.15) else ""
            expr = f"{src}.ap([{', '.join(pat)}]{off}{dt})"
        elif k < 0.9:
            expr = f"{src}.reshape({self.shape()})" if self.chance(0.5) else \
                f"{src}.reshape(({self.int_(self.P)}, {self.int_(-1)}))"
        else:
            expr = f"{src}.view({self.dtype()})"
        self.emit(f"{v} = {expr}", v)

    def instruction(self):
        ins = self.pick(INSTRUCTIONS)
        T = self.tile
        eng = lambda: self.pick(ENGINES) if self.chance(0.7) else self.pick(BAD + ENGINES)  # noqa: E731
        if ins == "dma_copy":
            kw = [f"dst={T()}", f"src={T()}"]
            if self.chance(0.2):
                kw.append(f"oob_mode=nisa.oob_mode.{self.pick(['error', 'skip'])}")
            if self.chance(0.2):
                kw.append(f"dge_mode=nisa.dge_mode.{self.pick(['unknown', 'swdge', 'hwdge', 'none'])}")
        elif ins == "tensor_copy":
            kw = [f"dst={T()}", f"src={T()}"] + ([f"engine={eng()}"] if self.chance(0.3) else [])
        elif ins == "memset":
            kw = [f"dst={T()}", f"value={self.scalar()}"] + ([f"engine={eng()}"] if self.chance(0.3) else [])
        elif ins == "iota":
            pat = ", ".join(f"[{self.int_(1, 0.1)}, {self.int_(n, 0.1)}]"
                            for n in ([self.F] if self.chance(0.7) else [max(1, self.F // 2), 2]))
            kw = [f"dst={T()}", f"pattern=[{pat}]", f"offset={self.int_(0, 0.1)}",
                  f"channel_multiplier={self.int_(self.pick([0, 1, -1]), 0.1)}"]
        elif ins == "tensor_tensor":
            kw = [f"dst={T()}", f"data1={T()}", f"data2={T()}", f"op={self.pick(ALU)}"]
            if self.chance(0.3):
                kw.append(f"engine={eng()}")
        elif ins == "tensor_scalar":
            kw = [f"dst={T()}", f"data={T()}", f"op0={self.pick(ALU)}",
                  f"operand0={self.scalar() if self.chance(0.8) else T()}"]
            if self.chance(0.3):
                kw.append(f"reverse0={self.pick(['True', 'False'])}")
            if self.chance(0.3):
                kw += [f"op1={self.pick(ALU)}", f"operand1={self.scalar()}"]
        elif ins in ("activation", "activation_reduce"):
            kw = [f"dst={T()}", f"op={self.pick(ACT)}", f"data={T()}"]
            if self.chance(0.3):
                kw.append(f"bias={T() if self.chance(0.5) else self.scalar()}")
            if self.chance(0.3):
                kw.append(f"scale={self.scalar() if self.chance(0.7) else T()}")
            if ins == "activation_reduce" or self.chance(0.2):
                kw += [f"reduce_op={self.pick(ALU[:5])}", f"reduce_res={T()}"]
                if ins == "activation":
                    kw.append(f"reduce_cmd=nisa.reduce_cmd.{self.pick(['idle', 'reset', 'reduce', 'reset_reduce', 'load_reduce'])}")
        elif ins == "tensor_reduce":
            axis = self.pick(["1", "[1]", "(1,)", "-1", "[1, 2]", "0"]) if self.chance(0.9) else \
                self.int_(1, 0.7, 0.3)
            kw = [f"dst={T()}", f"op={self.pick(ALU[:5])}", f"data={T()}", f"axis={axis}"]
            if self.chance(0.3):
                kw.append(f"negate={self.pick(['True', 'False'])}")
            if self.chance(0.3):
                kw.append(f"keepdims={self.pick(['True', 'False'])}")
        elif ins == "nc_matmul":
            kw = [f"dst={T()}", f"stationary={T()}", f"moving={T()}"]
            if self.chance(0.2):
                kw.append(f"is_transpose={self.pick(['True', 'False'])}")
            if self.chance(0.3):
                kw.append(f"accumulate={self.pick(['True', 'False', 'None'])}")
            if self.chance(0.15):
                kw.append(f"tile_position=({self.int_(0, 0.3)}, {self.int_(0, 0.3)})")
                kw.append(f"tile_size=({self.int_(128, 0.3)}, {self.int_(128, 0.3)})")
            if self.chance(0.1):
                kw.append(f"perf_mode=nisa.matmul_perf_mode.{self.pick(['none', 'double_row'])}")
        elif ins == "nc_transpose":
            kw = [f"dst={T()}", f"data={T()}"] + ([f"engine={eng()}"] if self.chance(0.3) else [])
        else:  # reciprocal
            kw = [f"dst={T()}", f"data={T()}"]
        self.emit(f"nisa.{ins}({', '.join(kw)})")

    def matmul_set(self):
        """Operands shaped for nc_matmul / nc_transpose (so those instructions really run)."""
        K, M, N = self.pick([1, 4, 16, 32, 128]), self.pick([1, 8, 16, 64, 128]), self.pick([1, 8, 64, 512])
        dt = self.pick(["nl.float32", "nl.bfloat16", "nl.float16"])
        s, m, d = self.name("t"), self.name("t"), self.name("t")
        self.emit(f"{s} = nl.ndarray(({K}, {M}), dtype={dt}, buffer=nl.sbuf)", s)
        self.emit(f"{m} = nl.ndarray(({K}, {N}), dtype={dt}, buffer=nl.sbuf)", m)
        self.emit(f"nisa.memset(dst={s}, value=1.0)")
        self.emit(f"nisa.memset(dst={m}, value=0.5)")
        self.emit(f"{d} = nl.ndarray(({M}, {N}), dtype=nl.float32, buffer=nl.psum)", d)
        if self.chance(0.5):
            self.emit(f"nisa.nc_matmul(dst={d}, stationary={s}, moving={m})")
        else:
            t = self.name("t")
            self.emit(f"{t} = nl.ndarray(({M}, {K}), dtype={dt}, buffer=nl.psum)", t)
            self.emit(f"nisa.nc_transpose(dst={t}, data={s})")

    def kernel(self):
        r = self.r
        self.P = self.pick([1, 2, 4, 8, 16, 32, 64, 128, 128])
        self.F = self.pick([1, 2, 3, 4, 8, 16, 32, 64, 128, 512])
        self.dtype_main = self.pick(["float32", "float32", "bfloat16", "int32", "float16", "uint8"])
        n_in = r.randrange(0, 3)
        inputs = []
        for _ in range(n_in):
            shp = [self.P, self.F] if self.chance(0.8) else [self.P * self.F] if self.chance(0.5) \
                else [self.P, max(1, self.F // 2), 2 if self.F > 1 else 1]
            dt = self.dtype_main if self.chance(0.6) and self.dtype_main in INPUT_DTYPES \
                else self.pick(INPUT_DTYPES)
            inputs.append((tuple(shp), dt))
        params = [f"a{i}" for i in range(n_in)]
        self.tiles += params
        for _ in range(r.randrange(1, 4)):
            self.alloc()
            t = self.tiles[-1]
            if self.chance(0.7):
                self.emit(f"nisa.memset(dst={t}, value={self.pick(['0.0', '1.0', '3'])})")
        if self.chance(0.25):
            self.matmul_set()
        for _ in range(r.randrange(2, 12)):
            k = r.random()
            if k < 0.2:
                self.alloc()
            elif k < 0.45:
                self.view()
            else:
                self.instruction()
        ret = ""
        if self.chance(0.5) and self.tiles:
            src = self.tile()
            self.emit(f"out = nl.ndarray({src}.shape, dtype={src}.dtype, buffer=nl.shared_hbm)")
            self.emit(f"nisa.dma_copy(dst=out, src={src})")
            ret = "out"
        body = []
        for ln in self.lines:
            body.append("    try:\n        " + ln + "\n    except Exception as e:\n        _fuzz_errors.append(e)")
        if ret:
            body.append(f"    try:\n        return {ret}\n    except NameError:\n        return None")
        src = f"def kernel({', '.join(params)}):\n" + ("\n".join(body) if body else "    pass") + "\n"
        grid = 2 if self.chance(0.08) else 1
        return Kernel(src, inputs, grid)


def generate(seed, index):
    """The kernel number `index` of the run seeded with `seed`."""
    return _Gen(random.Random(f"nkisim-fuzz:{seed}:{index}")).kernel()


if __name__ == "__main__":
    import sys
    k = generate(int(sys.argv[1]), int(sys.argv[2]))
    print(f"# inputs: {k.inputs}  grid: {k.grid}\n{k.source}")
