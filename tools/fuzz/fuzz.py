#!/usr/bin/env python3
"""Seeded mutation fuzzing of gpo-engine's untrusted inputs (docs/fuzzing.md).

  tools/fuzz/fuzz.py h5ad  --binary build-asan/gpo-engine --count 300   # corrupt .h5ad files -> preprocess
  tools/fuzz/fuzz.py cache --binary build-asan/gpo-engine --count 100   # corrupt preprocessing caches -> train

Each mutant is a copy of a valid file with seeded damage (bit flips, overwritten bytes and 4-byte words, zeroed or
0xff runs, truncation, a duplicated block). The engine runs on it with a time limit. A mutant FAILS when the process
dies by a signal, runs past the time limit, prints a sanitizer report (AddressSanitizer, LeakSanitizer, UBSan
"runtime error"), exceeds the memory bound (peak RSS), or, for h5ad, exits with a status other than 0 or 1 or
without an "error:" line when it fails; for cache, any exit but 0 (a damaged cache must be rebuilt, not fatal).
Failing mutants are kept under --keep DIR with the command and output, to reproduce. The exit status is the number
of failures (capped at 100). Runs for hours with a large --count; --seed picks another sequence.
"""
import argparse
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CONFIG = os.path.join(HERE, "fuzz_config.json")
BASE_H5AD = os.path.join(ROOT, "tests", "data", "fuzz_base_240.h5ad")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four seeded corruptions of `data`."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["bitflip", "byte", "word", "run", "truncate", "duplicate"])
        n = len(b)
        if n < 16:
            break
        at = rng.randrange(n)
        if kind == "bitflip":
            b[at] ^= 1 << rng.randrange(8)
        elif kind == "byte":
            b[at] = rng.randrange(256)
        elif kind == "word":
            at = min(at, n - 4)
            b[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
                                       rng.randbytes(4)])
        elif kind == "run":
            ln = rng.randint(2, 64)
            b[at:at + ln] = bytes([rng.choice([0, 255])]) * len(b[at:at + ln])
        elif kind == "truncate":
            del b[max(8, at):]
        elif kind == "duplicate":
            ln = rng.randint(8, 512)
            src = rng.randrange(n)
            b[at:at + ln] = b[src:src + ln]
    return bytes(b)


def run(cmd, timeout, env):
    """Runs cmd; returns (status, output, seconds, peak_rss_bytes, timed_out). The peak RSS is the process's own
    (with its reaped children), from wait4."""
    t0 = time.time()
    with tempfile.TemporaryFile() as log:
        # Its own process group, so a timeout kills the engine and anything it forked.
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - t0 > timeout:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read().decode("utf-8", "replace")
    return p.returncode, out, time.time() - t0, usage.ru_maxrss * 1024, timed_out


def verdict(mode, status, out, timed_out, rss, max_rss):
    if timed_out:
        return "hang (ran past the time limit)"
    if status < 0:
        return "killed by signal %d" % -status
    if status >= 128:
        return "exit status %d (signal?)" % status
    # "failed to allocate" is the allocation bound at work (max_allocation_size_mb with allocator_may_return_null):
    # the oversized request was refused and the engine had to cope; any other sanitizer output is a finding.
    scanned = "\n".join(l for l in out.splitlines() if "AddressSanitizer failed to allocate" not in l)
    for mark in SANITIZER_MARKS:
        if mark in scanned:
            return "sanitizer report (%s)" % mark
    if rss > max_rss:
        return "peak RSS %.0f MB above the bound %.0f MB" % (rss / 1e6, max_rss / 1e6)
    if mode == "h5ad":
        if status not in (0, 1):
            return "exit status %d" % status
        if status == 1 and "error:" not in out:
            return "exit 1 without an error message"
        for line in out.splitlines():
            if "error:" in line and any(ord(ch) < 32 and ch != "\t" for ch in line):
                return "raw control bytes in the error message"
    else:
        if status != 0:
            return "exit status %d: a damaged cache must be rebuilt" % status
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["h5ad", "cache"])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "gpo-engine"))
    ap.add_argument("--count", type=int, default=300, help="mutants to run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    ap.add_argument("--max-rss-mb", type=float, default=1500.0, help="peak memory bound per run")
    ap.add_argument("--keep", default=os.path.join(ROOT, "fuzz_failures"), help="where failing mutants go")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit("fuzz: %s is not an executable (build it: scripts/build.sh or scripts/build-sanitize.sh)" % binary)

    env = dict(os.environ)
    # Under ASan: every report aborts, and an allocation above the bound fails (returns NULL / bad_alloc) so the
    # engine's handling of it is what is tested; leaks are reported at exit.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:"
                   "max_allocation_size_mb=%d" % int(args.max_rss_mb))
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.pop("GPO_MAX_STEPS", None)

    work = tempfile.mkdtemp(prefix="gpo-fuzz-")
    failures = 0
    outcomes = {}  # how the engine answered, for the summary
    t_start = time.time()
    try:
        if args.mode == "h5ad":
            base = open(BASE_H5AD, "rb").read()
        else:
            # One valid cache from the base file; its .gpods is what gets corrupted.
            cache0 = os.path.join(work, "cache0")
            st, out, _, _, _ = run([binary, "preprocess", "--config", CONFIG, "--set",
                                    "data.path=" + BASE_H5AD, "--set", "preprocess.cache_dir=" + cache0],
                                   args.timeout, env)
            if st != 0:
                sys.exit("fuzz: preprocessing the base file failed:\n" + out)
            gpods = [f for f in os.listdir(cache0) if f.endswith(".gpods")]
            base_name = gpods[0]
            base = open(os.path.join(cache0, base_name), "rb").read()
        for i in range(args.count):
            rng = random.Random(args.seed * 1000003 + i)
            mutant = mutate(base, rng)
            d = os.path.join(work, "m%d" % i)
            os.makedirs(d)
            if args.mode == "h5ad":
                path = os.path.join(d, "mutant.h5ad")
                open(path, "wb").write(mutant)
                cmd = [binary, "preprocess", "--config", CONFIG, "--set", "data.path=" + path,
                       "--set", "preprocess.cache_dir=" + os.path.join(d, "cache")]
            else:
                cache = os.path.join(d, "cache")
                os.makedirs(cache)
                path = os.path.join(cache, base_name)
                open(path, "wb").write(mutant)
                cmd = [binary, "train", "--config", CONFIG, "--set", "data.path=" + BASE_H5AD,
                       "--set", "preprocess.cache_dir=" + cache, "--out", os.path.join(d, "run"),
                       "--max-steps", "2"]
            st, out, secs, rss, timed_out = run(cmd, args.timeout, env)
            why = verdict(args.mode, st, out, timed_out, rss, args.max_rss_mb * 1e6)
            kind = ("crash isolated" if "HDF5 crashed" in out else "hang isolated" if "did not finish" in out
                    else "allocation refused" if "failed to allocate" in out or "more than" in out and "GB of memory" in out
                    else "rebuilt" if "rebuilding" in out else "error" if st == 1 else "accepted" if st == 0
                    else "other")
            outcomes[kind] = outcomes.get(kind, 0) + 1
            if why:
                failures += 1
                keep = os.path.join(args.keep, "%s-seed%d-%d" % (args.mode, args.seed, i))
                os.makedirs(keep, exist_ok=True)
                shutil.copy(path, keep)
                with open(os.path.join(keep, "report.txt"), "w") as f:
                    f.write("verdict: %s\ncommand: %s\n\n%s" % (why, " ".join(cmd), out))
                print("FAIL mutant %d: %s (kept in %s)" % (i, why, keep), flush=True)
            shutil.rmtree(d, ignore_errors=True)
            if (i + 1) % 50 == 0 or i + 1 == args.count:
                print("fuzz %s: %d/%d mutants, %d failures, %.0f s" % (args.mode, i + 1, args.count, failures,
                                                                       time.time() - t_start), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("fuzz %s: %d mutants, %d failures; engine answers: %s" % (
        args.mode, args.count, failures, ", ".join("%s %d" % kv for kv in sorted(outcomes.items()))))
    sys.exit(min(failures, 100))


if __name__ == "__main__":
    main()
