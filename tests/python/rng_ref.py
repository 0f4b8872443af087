"""Independent references for the random-number instructions (issue 10), written from the
generator descriptions in the docstrings (nki.isa.rng & co.) and the papers they cite:
XORWOW (Marsaglia, "Xorshift RNGs", J. Stat. Softw. 2003, the cuRAND step) and SplitMix64
(Steele, Lea, Flood 2014). Pure Python integers / numpy uint64, no nki code."""
import numpy as np

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def splitmix_next(s):
    """(new state, output) of SplitMix64."""
    s = (s + 0x9E3779B97F4A7C15) & M64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def xorwow_seed(seed, lane, index, tag):
    """The 6 state words [x, y, z, w, v, d] nkisim expands from (seed, lane, state index, engine
    tag: 1 = Vector, 2 = GpSimd)."""
    s = ((seed << 32) ^ (lane << 8) ^ index ^ (tag << 20)) & M64
    st = []
    for _ in range(3):
        s, r = splitmix_next(s)
        st += [r & M32, r >> 32]
    if not any(st[:5]):
        st[0] = 123456789
    return st


def vector_states(seed, lanes=128):
    """[lanes, 24] uint32: the trn3 Vector engine states after set_rng_seed(seed)."""
    return np.array([sum((xorwow_seed(seed, l, g, 1) for g in range(4)), []) for l in range(lanes)],
                    dtype=np.uint32)


def gpsimd_states(seed, lanes=128):
    return np.array([xorwow_seed(seed, l, 0, 2) for l in range(lanes)], dtype=np.uint32)


def xorwow_steps(state, n):
    """Step XORWOW states [..., 6] n times; returns (outputs [..., n], new state)."""
    s = [state[..., i].astype(np.uint64) for i in range(6)]
    x, y, z, w, v, d = s
    out = []
    for _ in range(n):
        t = (x ^ (x >> np.uint64(2))) & np.uint64(M32)
        x, y, z, w = y, z, w, v
        v = ((v ^ ((v << np.uint64(4)) & np.uint64(M32))) ^ (t ^ ((t << np.uint64(1)) & np.uint64(M32))))
        v &= np.uint64(M32)
        d = (d + np.uint64(362437)) & np.uint64(M32)
        out.append((v + d) & np.uint64(M32))
    new = np.stack([x, y, z, w, v, d], axis=-1).astype(np.uint32)
    return np.stack(out, axis=-1).astype(np.uint32), new


def vector_draw(states, n):
    """trn3 Vector engine: states [P, 24] -> (values [P, n], new states). Element j of a row comes
    from state j % 4; every state steps ceil(n / 4) times."""
    P = states.shape[0]
    rounds = -(-n // 4)
    st = states.reshape(P, 4, 6)
    vals, new = xorwow_steps(st, rounds)          # [P, 4, rounds]
    vals = vals.transpose(0, 2, 1).reshape(P, 4 * rounds)[:, :n]
    return vals, new.reshape(P, 24)


def gpsimd_draw(states, n):
    return xorwow_steps(states, n)


def counter_draw(seed, lanes, counter0, n):
    """trn1/trn2 Vector engine: value = high 32 bits of SplitMix64(key ^ counter * C), key =
    seed * 2^32 + lane."""
    out = np.zeros((len(lanes), n), dtype=np.uint32)
    for i, lane in enumerate(lanes):
        key = ((seed << 32) | lane) & M64
        for j in range(n):
            c = counter0 + j
            _, r = splitmix_next(key ^ ((c * 0xD1B54A32D192ED03) & M64))
            out[i, j] = r >> 32
    return out


def unit(bits):
    """Uniform [0, 1) floats from 32-bit values: (bits >> 8) * 2^-24 (exact in float32)."""
    return (np.asarray(bits, dtype=np.uint32) >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
