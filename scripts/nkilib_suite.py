#!/usr/bin/env python3
"""Run nki-library's own integration suite (simulation mode) on nkisim and summarise the result.

    NKILIB_PATH=/path/to/nki-library .venv/bin/python scripts/nkilib_suite.py            # the sample
    NKILIB_PATH=... .venv/bin/python scripts/nkilib_suite.py --per-file 0                 # every test

The sample is fixed: from every test file it takes `--per-file` tests spread evenly over the
file's collected ids (sorted; ids are stable with NEURON_PYTHONHASHSEED=0), preferring ids the
harness does not skip as too large for simulation. Tests run with the nki.testing.nkilib plugin
under pytest-xdist (`-j` workers), a per-test timeout, and an address-space cap per worker
(prlimit), so an oversized golden fails with MemoryError instead of exhausting the machine.

A per-test timeout that fires while an LNC=2 kernel runs can take its xdist worker down (and
pytest-xdist then stops the run with an INTERNALERROR): run the ids of sample.txt that have no
result yet again with `--junitxml <out>/junit2.xml`; --summarize merges every junit*.xml in --out.

Prints pass / fail / skip per file and the failure causes grouped (missing instruction, Python
behaviour, memory, timeout, numerical mismatch, ...), and writes a JSON result next to the
junit XML in --out.
"""
import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

SLOW = ("4096", "5120", "8192", "16384", "32768", "36864")  # the harness's skip patterns


def run(cmd, cwd, env, log):
    with open(log, "w") as f:
        return subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode


def collect(args, env):
    log = os.path.join(args.out, "collect.txt")
    run(args.pytest + ["--collect-only", "-q"] + args.extra, args.nkilib, env, log)
    ids = [line.strip() for line in open(log) if "::" in line and not line.startswith(("ERROR", "E "))]
    errors = [line.split()[1] for line in open(log) if line.startswith("ERROR ") and ".py" in line]
    return ids, errors


def sample(ids, per_file):
    by_file = collections.defaultdict(list)
    for i in ids:
        by_file[i.split("::")[0]].append(i)
    chosen = {}
    for f, items in sorted(by_file.items()):
        items = sorted(items)
        if per_file <= 0:
            chosen[f] = items
            continue
        fast = [i for i in items if not any(p in i for p in SLOW)] or items
        n = min(per_file, len(fast))
        chosen[f] = [fast[(k * len(fast)) // n] for k in range(n)]
    return chosen, {f: len(v) for f, v in by_file.items()}


CAUSES = [
    (r"nki\.isa\.(\w+) is not implemented", "missing instruction nisa.{0}"),
    (r"nl\.(\w+) is not implemented", "missing nl.{0}"),
    (r"nki\.collectives\.(\w+) is not implemented", "collectives not simulated (ncc.{0})"),
    (r"\.ap\(scalar_offset=\.\.\., vector_offset=\.\.\.\)", "indirect/dynamic access pattern (.ap scalar_offset/vector_offset)"),
    (r"nisa\.VirtualRegister|registers are not supported", "registers / dynamic control flow"),
    (r"register-valued \(dynamic\) slices", "dynamic slices (nl.ds with a register)"),
    (r"(\w+): must be a member of nki\.isa\.(\w+)", "int/str where enum expected ({0}, issue 6)"),
    (r"PerRankLazyInputGenerator", "multi-rank (collective) test: the harness's simulation mode "
     "takes one input dict"),
    (r"The size of tensor a \(\d+\) must match", "error in the library's torch golden reference"),
    (r"nki\.compiler\.frontend", "trace-only test: needs the NKI compiler (neuronx-cc)"),
    (r"Timeout", "per-test timeout"),
    (r"MemoryError|Unable to allocate|std::bad_alloc|Cannot allocate memory",
     "memory cap (golden or inputs too large)"),
    (r"Not equal to tolerance|mismatch|allclose|Mismatched elements|validation failed",
     "numerical mismatch"),
    (r"sbuf is full|SBUF.*full|does not fit in SBUF", "SBUF capacity"),
    (r"NkiValidationError|AssertionError", "validation error"),
]


def cause_of(text):
    for pat, label in CAUSES:
        m = re.search(pat, text)
        if m:
            return label.format(*m.groups()), m.group(0)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("E ")), "")
    return "other", first[:160] or text.strip().splitlines()[0][:160] if text.strip() else "?"


def parse_junit(path):
    res = {}
    if not os.path.exists(path):
        return res
    for tc in ET.parse(path).getroot().iter("testcase"):
        cls, name = tc.get("classname", ""), tc.get("name", "")
        parts = cls.split(".")
        # classname: test.integration...test_x.TestClass -> file path + class
        mod = [p for p in parts]
        while mod and not mod[-1].startswith("test_"):
            mod.pop()
        fpath = "/".join(mod[1:]) + ".py" if mod and mod[0] == "test" else "/".join(mod) + ".py"
        outcome, text = "pass", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome = "fail"
                text = (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                outcome = "skip"
                text = child.get("message") or ""
        res.setdefault(fpath, []).append((name, outcome, text))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nkilib", default=os.environ.get("NKILIB_PATH"), help="nki-library checkout "
                    "(default $NKILIB_PATH)")
    ap.add_argument("--per-file", type=int, default=6, help="tests per file (0 = all)")
    ap.add_argument("--timeout", type=int, default=90, help="seconds per test")
    ap.add_argument("--mem-gb", type=float, default=6.0, help="address-space cap per process")
    ap.add_argument("-j", type=int, default=2, help="pytest-xdist workers (at most 2 here)")
    ap.add_argument("--platform", default="trn2")
    ap.add_argument("--out", default="build/nkilib-suite")
    ap.add_argument("--summarize", action="store_true", help="only summarise the results already "
                    "in --out (collect.txt, sample.txt, junit.xml)")
    args, extra = ap.parse_known_args()
    if not args.nkilib or not os.path.isdir(os.path.join(args.nkilib, "test")):
        sys.exit("set NKILIB_PATH (or --nkilib) to a checkout of aws-neuron/nki-library")
    args.nkilib = os.path.abspath(args.nkilib)
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    args.extra = ["test/integration"] + extra
    env = dict(os.environ, NEURON_PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(args.nkilib, "src"),
                                                        os.environ.get("PYTHONPATH")])))
    cap = ["prlimit", f"--as={int(args.mem_gb * 2**30)}"]
    args.pytest = cap + [sys.executable, "-m", "pytest", "-p", "nki.testing.nkilib", "-p",
                         "no:cacheprovider", "--test-mode", "simulation", "--platform-target",
                         args.platform]
    t0 = datetime.datetime.now(datetime.timezone.utc)
    listing = os.path.join(args.out, "sample.txt")
    junit = os.path.join(args.out, "junit.xml")
    if args.summarize:
        log = os.path.join(args.out, "collect.txt")
        ids = [ln.strip() for ln in open(log) if "::" in ln and not ln.startswith(("ERROR", "E "))]
        collect_errors = []
        chosen, totals = sample(ids, args.per_file)
        t0 = datetime.datetime.fromtimestamp(os.path.getmtime(log), datetime.timezone.utc)
    else:
        ids, collect_errors = collect(args, env)
        chosen, totals = sample(ids, args.per_file)
        with open(listing, "w") as f:
            for items in chosen.values():
                for i in items:
                    f.write(f"test/{i}\n")
        cmd = args.pytest + ["-q", "-n", str(args.j), "--timeout", str(args.timeout),
                             "--junitxml", junit, "-o", "junit_logging=no", f"@{listing}"]
        run(cmd, args.nkilib, env, os.path.join(args.out, "run.txt"))
    results = {}
    for name in sorted(os.listdir(args.out)):  # junit.xml, plus junit2.xml ... of continued runs
        if name.startswith("junit") and name.endswith(".xml"):
            for f, items in parse_junit(os.path.join(args.out, name)).items():
                results.setdefault(f, []).extend(items)
    t1 = datetime.datetime.fromtimestamp(os.path.getmtime(junit), datetime.timezone.utc) \
        if os.path.exists(junit) else datetime.datetime.now(datetime.timezone.utc)

    rows, causes = [], collections.Counter()
    examples = {}
    per_file_causes = {}
    for f in sorted(chosen):
        key = "test/" + f
        got = results.get(f) or results.get(key) or []
        c = collections.Counter(o for _, o, _ in got)
        fc = collections.Counter()
        for name, o, text in got:
            if o == "fail":
                label, ex = cause_of(text)
                causes[label] += 1
                fc[label] += 1
                examples.setdefault(label, ex)
        per_file_causes[f] = fc
        rows.append((f.replace("integration/nkilib/", ""), totals.get(f, 0), len(got), c["pass"],
                     c["fail"], c["skip"], "; ".join(f"{k} x{v}" for k, v in fc.most_common())))
    w = max(len(r[0]) for r in rows) if rows else 10
    print(f"nki-library simulation suite on nkisim, {t0:%Y-%m-%d %H:%M} UTC, "
          f"{(t1 - t0).total_seconds() / 60:.1f} min, platform {args.platform}, "
          f"{args.per_file or 'all'} per file")
    print(f"{'file':<{w}}  collected  run  pass  fail  skip  failure causes")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>9}  {r[2]:>3}  {r[3]:>4}  {r[4]:>4}  {r[5]:>4}  {r[6]}")
    tp = sum(r[3] for r in rows)
    tf = sum(r[4] for r in rows)
    ts = sum(r[5] for r in rows)
    print(f"{'total':<{w}}  {sum(r[1] for r in rows):>9}  {sum(r[2] for r in rows):>3}  {tp:>4}  "
          f"{tf:>4}  {ts:>4}")
    if collect_errors:
        print("collection errors:", ", ".join(collect_errors))
    print("\nfailure causes:")
    for label, n in causes.most_common():
        print(f"  {n:>4}  {label}    e.g. {examples[label]}")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"date": f"{t0:%Y-%m-%d}", "rows": rows, "causes": causes,
                   "examples": examples}, f, indent=1)


if __name__ == "__main__":
    main()
