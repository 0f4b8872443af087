"""Benchmark runner: `python -m benchmarks [--smoke] [--cases a,b] [--reps N]`.

Every (case, executor) pair runs in a fresh subprocess (`--one CASE EXECUTOR`) so that its
peak RSS is its own. The parent compares the outputs, prints the table and writes
results/latest.json and results/latest.png.
"""
import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .cases import BY_NAME, CASES, MiB, sim_bytes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / 'results'
EXECUTORS = ('ours', 'peer', 'ideal')
# OpenBLAS tuning variables that may be set on this machine and slow NumPy down; every
# subprocess (all three executors) runs with them unset, and with OpenBLAS single-threaded
# unless --blas-threads says otherwise (see README: on the 2-vCPU benchmark machine a second
# OpenBLAS thread does not speed up large GEMMs and makes small ones ~100x slower).
UNSET_ENV = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')


# ------------------------------------------------------------------ child: one (case, executor)

def _purge_nki():
    for k in [k for k in sys.modules if k == 'nki' or k.startswith('nki.')]:
        del sys.modules[k]


def load_nki():
    """The real `nki` package if it is usable (has jit and simulate), else (None, reason)."""
    reason = 'not importable'
    for extra in (None, str(ROOT / 'python')):
        if extra:
            if extra in sys.path:
                break
            sys.path.insert(0, extra)
        try:
            import nki
            if hasattr(nki, 'simulate') and hasattr(nki, 'jit'):
                return nki, None
            reason = f'nki at {list(getattr(nki, "__path__", [])) or nki.__file__} has no jit/simulate yet'
        except Exception as e:  # noqa: BLE001 - any import failure means "ours unavailable"
            reason = f'import nki failed: {type(e).__name__}: {e}'
        _purge_nki()
    return None, reason


def _ours_counter(nki):
    """(read, source, per_run): an instruction counter of the real simulator, if it has one."""
    last = getattr(nki, 'last_launch', None)
    if last is not None and hasattr(last, 'stats'):
        return lambda: int((last.stats or {}).get('instructions', 0)), \
            "nki.last_launch.stats['instructions']", True
    core = getattr(nki, '_core', None)
    for obj in (core, nki):
        for name in ('instruction_count', 'instructions_executed'):
            f = getattr(obj, name, None)
            if callable(f):
                return f, f'nki{"._core" if obj is core else ""}.{name}()', False
    return None, None, False


def peak_rss_mb():
    """Peak RSS of this process. VmHWM is per address space; ru_maxrss is not used first because
    Linux carries the parent's high-water mark over fork+exec into the child's ru_maxrss."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time(fn, args, reps, before_each=None):
    times, out = [], None
    for _ in range(reps):
        out = None                      # free the previous output before the next run
        if before_each:
            before_each()
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    return out, times


def _merge_turn(acc, turn):
    """One executor's results over its turns: all warm times and first calls, the best of them
    (warm, cold and the small run), the largest peak RSS; the rest (counts, bytes, dtypes) is the
    same every turn."""
    if acc is None or 'best' not in acc or 'best' not in turn:
        return turn
    out = dict(turn)
    out['times'] = acc['times'] + turn['times']
    out['colds'] = acc['colds'] + turn['colds']
    out['best'], out['cold'] = min(out['times']), min(out['colds'])
    if 'small_best' in turn and 'small_best' in acc:
        out['small_best'] = min(acc['small_best'], turn['small_best'])
    out['peak_rss_mb'] = max(acc['peak_rss_mb'], turn['peak_rss_mb'])
    return out


def run_one(case_name, executor, smoke, reps, outdir):
    from . import peer
    case = BY_NAME[case_name]
    res = {'case': case_name, 'executor': executor}
    nki, why = load_nki()
    if nki is None:
        peer.install_as_nki()           # lets kernels.py import; "ours" is then skipped
    kernels = importlib.import_module('benchmarks.kernels')
    args = case.make(smoke)
    small = case.make(smoke, small=True) if case.marginal else None
    counter, per_run = None, False
    if executor == 'ours':
        if nki is None:
            res['skipped'] = why
            _write_json(outdir, res)
            return 0
        fn = nki.simulate(getattr(kernels, case.kernel))
        counter, res['instr_source'], per_run = _ours_counter(nki)
        res['nki_location'] = str(getattr(nki, '__file__', None) or list(nki.__path__))
    elif executor == 'peer':
        plain = getattr(kernels, '_' + case.kernel[:-len('_kernel')])
        fn = peer.nki.simulate(peer.rebind(plain))
        res['instr_source'] = 'peer count'
    else:
        fn = case.ideal
        to32 = lambda xs: [x.astype(np.float32) if isinstance(x, np.ndarray) else x for x in xs]
        args, small = to32(args), (to32(small) if small else None)

    count = {}

    def counted():
        return counter() if per_run else int(counter() - count['before'])

    def reset():
        peer.Stats.instructions = 0
        if counter:
            count['before'] = counter()
    out, times = _time(fn, args, reps, reset)
    if executor == 'peer':
        res['instructions'] = peer.Stats.instructions
    elif counter:
        res['instructions'] = counted()
    res['times'] = times
    res['best'] = min(times)
    res['cold'] = times[0]              # the first call in this fresh process
    res['colds'] = [times[0]]
    if small is not None:               # dispatch: marginal cost per instruction
        out_small, t_small = _time(fn, small, reps, reset)
        res['small_best'] = min(t_small)
        res['small_instructions'] = peer.Stats.instructions if executor == 'peer' else (
            counted() if counter else None)
        del out_small
    res['peak_rss_mb'] = peak_rss_mb()
    outs = out if isinstance(out, (tuple, list)) else (out,)
    outs = [np.asarray(o) for o in outs]
    if executor != 'ideal':             # ideal inputs are float32 copies, not the simulated tensors
        res['sim_bytes'] = sim_bytes(args, outs)
    res['out_dtypes'] = [str(o.dtype) for o in outs]
    np.savez(Path(outdir) / f'{case_name}.{executor}.npz', *[o.astype(np.float32) for o in outs])
    _write_json(outdir, res)
    return 0


def _write_json(outdir, res):
    with open(Path(outdir) / f'{res["case"]}.{res["executor"]}.json', 'w') as f:
        json.dump(res, f)


# ------------------------------------------------------------------ parent: compare, report

def compare(x, y, rtol):
    """x ~ y elementwise: |x - y| <= rtol * (|y| + max|y|), NaNs must coincide."""
    if x.shape != y.shape:
        return False, f'shape {x.shape} vs {y.shape}'
    nx, ny = np.isnan(x), np.isnan(y)
    scale = float(np.nanmax(np.abs(y))) if not ny.all() else 1.0
    with np.errstate(invalid='ignore'):
        err = np.abs(x - y)
        bad = ~(err <= rtol * (np.abs(y) + scale))
    bad &= ~(nx & ny)
    max_err = float(np.nanmax(err)) if not np.isnan(err).all() else float('nan')
    if not bad.any():
        return True, f'max abs err {max_err:.3g} (scale {scale:.3g})'
    i = np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1))), x.shape)
    return False, (f'{int(bad.sum())}/{bad.size} elements differ, shape {x.shape}, e.g. at {tuple(map(int, i))}: '
                   f'{float(x[i])!r} vs {float(y[i])!r}; max abs err {max_err:.3g} (scale {scale:.3g})')


def _load(outdir, case, ex):
    p = Path(outdir) / f'{case}.{ex}.npz'
    if not p.exists():
        return None
    with np.load(p) as z:
        return [z[f'arr_{i}'] for i in range(len(z.files))]


def _check(case, outdir, have):
    outs = {ex: _load(outdir, case.name, ex) for ex in EXECUTORS if have.get(ex)}
    checks, ok = {}, True
    for a, b, rtol in (('ours', 'peer', case.tol[0]), ('peer', 'ideal', case.tol[1]),
                       ('ours', 'ideal', case.tol[1])):
        if outs.get(a) is None or outs.get(b) is None:
            continue
        msgs = []
        good = len(outs[a]) == len(outs[b])
        for k, (x, y) in enumerate(zip(outs[a], outs[b])):
            g, m = compare(x, y, rtol)
            good &= g
            msgs.append(f'out{k}: {m}')
        checks[f'{a}~{b}'] = {'ok': bool(good), 'rtol': rtol, 'detail': '; '.join(msgs)}
        ok &= good
    return ok, checks


def _ratio(a, b):
    return a / b if a and b else None


def _evaluate(case, r):
    ours, peer, ideal = r['ours'], r['peer'], r['ideal']
    ob, pb, ib = (x.get('best') for x in (ours, peer, ideal))
    r['peer_over_ours'] = _ratio(pb, ob)
    r['ours_over_ideal'] = _ratio(ob, ib)
    instr = ours.get('instructions') or peer.get('instructions')
    r['instructions'] = instr
    r['instr_source'] = ours.get('instr_source') if ours.get('instructions') else 'peer count (same kernel)'
    r['cold_peer_over_ours'] = _ratio(peer.get('cold'), ours.get('cold'))
    if case.marginal:
        for ex in EXECUTORS:
            x = r[ex]
            n_big = x.get('instructions') or peer.get('instructions')
            n_small = x.get('small_instructions') or peer.get('small_instructions')
            if x.get('best') and x.get('small_best') is not None and n_big and n_small and n_big > n_small:
                x['us_per_instr'] = (x['best'] - x['small_best']) / (n_big - n_small) * 1e6
        r['us_per_instr'] = ours.get('us_per_instr')
    sb = peer.get('sim_bytes') or ours.get('sim_bytes')
    r['sim_mb'] = sb / MiB if sb else None
    r['rss_budget_mb'] = 1.5 * sb / MiB + 200 if sb else None
    targets = []
    t = case.targets
    if 'peer_over_ours' in t:
        targets.append(('peer/ours', '>=', t['peer_over_ours'], r['peer_over_ours']))
    if 'cold_peer_over_ours' in t:
        targets.append(('cold peer/ours', '>=', t['cold_peer_over_ours'], r['cold_peer_over_ours']))
    if 'ours_over_ideal' in t:
        targets.append(('ours/ideal', '<=', t['ours_over_ideal'], r['ours_over_ideal']))
    if 'us_per_instr' in t:
        targets.append(('us/instr', '<', t['us_per_instr'], r.get('us_per_instr')))
    targets.append(('rss MB', '<=', r['rss_budget_mb'], ours.get('peak_rss_mb')))
    r['targets'] = []
    for name, op, thr, val in targets:
        ok = None if val is None or thr is None else (
            val >= thr if op == '>=' else val <= thr if op == '<=' else val < thr)
        r['targets'].append({'name': name, 'op': op, 'threshold': thr, 'value': val, 'ok': ok})


def _fmt(v, spec='.3f'):
    return '-' if v is None else format(v, spec)


def print_table(results, file=sys.stdout):
    cols = ['case', 'ours ms', 'peer ms', 'ideal ms', 'peer/ours', 'cold p/o', 'ours/ideal', 'instrs',
            'us/instr',
            'RSS ours/peer MB', 'budget', 'check', 'targets']
    rows = []
    for r in results:
        tg = ' '.join(f'{t["name"]}{t["op"]}{t["threshold"]:.4g}:'
                      f'{"?" if t["ok"] is None else "ok" if t["ok"] else "MISS"}' for t in r['targets'])
        rss = f'{_fmt(r["ours"].get("peak_rss_mb"), ".0f")}/{_fmt(r["peer"].get("peak_rss_mb"), ".0f")}'
        upi = '-'
        instrs = _fmt(r['instructions'], 'd')
        if r['ours'].get('instructions') and r['peer'].get('instructions') != r['ours']['instructions']:
            instrs += f' (peer {r["peer"].get("instructions")})'
        if r.get('us_per_instr') is not None or r['peer'].get('us_per_instr') is not None:
            upi = f'{_fmt(r.get("us_per_instr"), ".2f")} (peer {_fmt(r["peer"].get("us_per_instr"), ".1f")})'
        ms = lambda x: None if x.get('best') is None else x['best'] * 1e3
        rows.append([r['case'], _fmt(ms(r['ours']), '.4g'), _fmt(ms(r['peer']), '.4g'),
                     _fmt(ms(r['ideal']), '.4g'), _fmt(r['peer_over_ours'], '.2f'),
                     _fmt(r.get('cold_peer_over_ours'), '.2f'),
                     _fmt(r['ours_over_ideal'], '.2f'), instrs, upi, rss,
                     _fmt(r['rss_budget_mb'], '.0f'), r['status'], tg])
    w = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    line = lambda cells: '  '.join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    print(line(cols), file=file)
    print(line(['-' * x for x in w]), file=file)
    for row in rows:
        print(line(row), file=file)


def machine_info(blas_threads):
    cpu = None
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), None)
    except OSError:
        pass
    info = {'cpu': cpu or platform.processor(), 'nproc': os.cpu_count(),
            'python': platform.python_version(), 'numpy': np.__version__,
            'platform': platform.platform()}
    try:
        import ml_dtypes
        info['ml_dtypes'] = ml_dtypes.__version__
    except ImportError:
        pass
    try:
        blas = np.show_config(mode='dicts')['Build Dependencies']['blas']
        info['numpy_blas'] = {k: blas.get(k) for k in ('name', 'version', 'openblas configuration')}
    except Exception:  # noqa: BLE001 - informational only
        pass
    try:
        from threadpoolctl import threadpool_info
        info['threadpools'] = threadpool_info()
    except ImportError:
        info['threadpools'] = 'threadpoolctl not installed'
    info['unset_for_subprocesses'] = {k: os.environ.get(k) for k in UNSET_ENV}
    info['subprocess_OPENBLAS_NUM_THREADS'] = blas_threads or os.environ.get('OPENBLAS_NUM_THREADS')
    return info


def write_chart(results, path, smoke):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return 'skipped (matplotlib not installed: pip install matplotlib)'
    names = [r['case'] for r in results]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    specs = [('peer_over_ours', 'peer time / ours time  (higher is better)', 'peer/ours', 'tab:blue'),
             ('ours_over_ideal', 'ours time / ideal NumPy time  (lower is better)', 'ours/ideal', 'tab:orange')]
    for ax, (key, title, tname, color) in zip(axes, specs):
        vals = [r.get(key) for r in results]
        ax.bar(x, [v or 0 for v in vals], color=color, width=0.6)
        for i, v in enumerate(vals):
            ax.text(i, (v or 0), '-' if v is None else f'{v:.2f}', ha='center', va='bottom', fontsize=8)
        for i, r in enumerate(results):
            thr = next((t['threshold'] for t in r['targets'] if t['name'] == tname), None)
            if thr is not None:
                ax.hlines(thr, i - 0.4, i + 0.4, colors='red', linestyles='--')
        ax.axhline(1.0, color='gray', lw=0.8)
        ax.set_xticks(x, names, rotation=30, ha='right')
        ax.set_title(title, fontsize=10)
        if key == 'peer_over_ours' and any(vals):
            ax.set_yscale('log')
    missing = '' if any(r.get('peer_over_ours') for r in results) else ' - ours not available, no ratios'
    fig.suptitle(f'nkisim benchmarks{" (smoke)" if smoke else ""}: red dashes = targets{missing}', fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _select(spec):
    groups = {}
    for c in CASES:
        groups.setdefault(c.group, []).append(c.name)
    names = []
    for tok in spec.split(','):
        tok = tok.strip()
        names += groups.get(tok, [tok] if tok in BY_NAME else [])
        if tok not in groups and tok not in BY_NAME:
            raise SystemExit(f'unknown case {tok!r}; use a-g or one of {", ".join(BY_NAME)}')
    return [c for c in CASES if c.name in names]


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python -m benchmarks', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='tiny sizes of every case (CI)')
    ap.add_argument('--cases', default='a,b,c,d,e,f,g,h', help='a-h or case names, comma separated')
    ap.add_argument('--reps', type=int, default=None, help='repetitions, best is reported')
    ap.add_argument('--rounds', type=int, default=None,
                    help='the executors take turns this many times, each time in a fresh process '
                         'with its share of the repetitions (default 3, --smoke: 1; see README)')
    ap.add_argument('--json', default=None, help='JSON output path (default results/latest.json; '
                                                  'smoke: results/smoke.json)')
    ap.add_argument('--blas-threads', type=int, default=1,
                    help='OPENBLAS_NUM_THREADS for the subprocesses (0: inherit; default 1)')
    ap.add_argument('--one', nargs=2, metavar=('CASE', 'EXECUTOR'), help=argparse.SUPPRESS)
    ap.add_argument('--outdir', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        return run_one(a.one[0], a.one[1], a.smoke, a.reps or 3, a.outdir)

    cases = _select(a.cases)
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    if a.blas_threads:
        env['OPENBLAS_NUM_THREADS'] = str(a.blas_threads)
    results, failed = [], False
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix='nkisim-bench-') as tmp:
        for case in cases:
            reps = a.reps or case.reps
            r = {'case': case.name, 'note': case.note, 'reps': reps}
            # The executors take turns (ours, peer, ideal, ours, ...) so that each one samples
            # the whole measurement period: on a shared host the speed of the machine drifts
            # over seconds, and one executor measured only inside a slow stretch would be
            # compared with another that saw a fast one. Best over all turns is reported.
            rounds = max(1, min(a.rounds or (1 if a.smoke else 3), reps))
            share = [reps // rounds + (1 if i < reps % rounds else 0) for i in range(rounds)]
            for k in range(rounds):
                for ex in EXECUTORS:
                    if 'error' in r.get(ex, {}) or 'skipped' in r.get(ex, {}):
                        continue
                    cmd = [sys.executable, '-m', 'benchmarks', '--one', case.name, ex, '--outdir',
                           tmp, '--reps', str(share[k])] + (['--smoke'] if a.smoke else [])
                    t0 = time.time()
                    jp = Path(tmp) / f'{case.name}.{ex}.json'
                    jp.unlink(missing_ok=True)
                    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
                    if p.returncode == 0 and jp.exists():
                        r[ex] = _merge_turn(r.get(ex), json.loads(jp.read_text()))
                    else:
                        r[ex] = {'error': (p.stderr or p.stdout).strip().splitlines()[-12:]}
                    state = ('skipped: ' + r[ex]['skipped']) if 'skipped' in r[ex] else (
                        'ERROR' if 'error' in r[ex] else f'best {r[ex]["best"]:.4f} s')
                    print(f'[{case.name:>11}] {ex:<5} {state}  ({time.time() - t0:.1f} s wall)',
                          file=sys.stderr, flush=True)
                    if 'error' in r[ex]:
                        print('    ' + '\n    '.join(r[ex]['error']), file=sys.stderr)
            have = {ex: 'best' in r[ex] for ex in EXECUTORS}
            ok, r['checks'] = _check(case, tmp, have)
            if not have['peer'] or not have['ideal'] or ('error' in r['ours']):
                ok = False
            r['status'] = ('PASS' if ok else 'FAIL') + (
                '' if have['ours'] else ' (ours error)' if 'error' in r['ours'] else ' (no ours)')
            failed |= not ok
            for k, c in r['checks'].items():
                if not c['ok']:
                    print(f'    MISMATCH {case.name} {k}: {c["detail"]}', file=sys.stderr)
            _evaluate(case, r)
            results.append(r)

    RESULTS.mkdir(exist_ok=True)
    json_path = Path(a.json) if a.json else RESULTS / ('smoke.json' if a.smoke else 'latest.json')
    png_path = json_path.with_suffix('.png')
    doc = {'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
           'smoke': a.smoke, 'total_wall_s': round(time.time() - t_start, 1),
           'machine': machine_info(a.blas_threads), 'cases': results}
    print()
    print_table(results)
    ours_note = next((r['ours']['skipped'] for r in results if 'skipped' in r['ours']), None)
    if ours_note:
        print(f'\nours skipped: {ours_note}')
    if any(r['instr_source'] and r['instr_source'].startswith('peer') for r in results):
        print('instrs: counted by the peer running the same kernel (ours exposes no counter)')
    doc['chart'] = write_chart(results, png_path, a.smoke)
    json_path.write_text(json.dumps(doc, indent=1, default=str))
    print(f'\nJSON: {json_path}\nchart: {doc["chart"]}')
    print(f'{"FAIL" if failed else "PASS"}: {sum(r["status"].startswith("PASS") for r in results)} passed, '
          f'{sum(not r["status"].startswith("PASS") for r in results)} failed')
    return 1 if failed else 0
