"""The peers' environment, checked before anything is timed: imported first by every peer script.

- OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE force OpenBLAS onto other kernels than the ones it
  would pick for this CPU; a peer timed with them set is handicapped. If either is set, the
  script re-executes itself without them (before NumPy is loaded): the peers' commands run
  without them, while tests and CI keep the environment as it is.
- NumPy must run on OpenBLAS (threadpoolctl tells): a peer on the reference BLAS is several
  times slower than the one a user gets from PyPI, and is refused.
- describe() names every version and the BLAS, for the record in docs/BENCHMARKS.md.
"""
import os
import platform
import sys

FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

if any(name in os.environ for name in FORCING):
    env = {k: v for k, v in os.environ.items() if k not in FORCING}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402  (after the environment is settled)
import threadpoolctl  # noqa: E402


def blas_info():
    """NumPy's BLAS as threadpoolctl reports it; exits if it is not OpenBLAS."""
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    numpy_blas = [i for i in infos if "numpy" in i["filepath"]] or infos
    if not numpy_blas or numpy_blas[0]["internal_api"] != "openblas":
        found = ", ".join(f"{i['internal_api']} ({i['filepath']})" for i in infos) or "none"
        sys.exit(f"{os.path.basename(sys.argv[0])}: NumPy does not run on OpenBLAS (BLAS found: "
                 f"{found}); refusing to time peers on a reference BLAS. Run it with the "
                 "benchmark environment: make bench, or .venv/bin/python after "
                 "pip install -r requirements/bench.txt")
    return numpy_blas[0]


def cpu_name():
    """Model name, family, widest SIMD and core count, from /proc/cpuinfo."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown CPU"
    flags = fields.get("flags", "").split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return (f"{fields.get('model name', 'unknown CPU')}, family {fields.get('cpu family', '?')}, "
            f"{simd}, {os.cpu_count()} cores")


def versions():
    """Installed versions of the peers (None where not installed)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("numpy", "scipy", "scikit-learn", "scikit-learn-intelex", "torch", "pandas",
                 "pyarrow", "threadpoolctl"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def describe():
    """Prints and returns the record of the environment: CPU, versions, BLAS."""
    blas = blas_info()
    record = {"cpu": cpu_name(), "versions": versions(),
              "blas": {k: blas.get(k) for k in ("internal_api", "version", "architecture",
                                                "num_threads", "threading_layer", "filepath")}}
    v = record["versions"]
    print("cpu: " + record["cpu"])
    print("peers: " + ", ".join(f"{k} {val}" for k, val in v.items() if val is not None))
    b = record["blas"]
    print(f"NumPy BLAS: OpenBLAS {b['version']} ({b['architecture']} kernels, "
          f"{b['num_threads']} threads, {b['threading_layer']}); "
          f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset", flush=True)
    return record


def interleaved_medians(fns, min_time, least=5):
    """Median time of each function, the functions called in turn after one warm-up call each
    (so that a slow phase of the machine hits all of them alike), at least `least` rounds and
    about min_time seconds per function."""
    import time

    for fn in fns:
        fn()
    times = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < least or time.perf_counter() - start < min_time * len(fns):
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [sorted(t)[len(t) // 2] for t in times]


def fewest_to_reach(run, target, start, cap):
    """A peer's time to an objective it passes on the way to its own end: the fewest
    iterations (or epochs) n in [start, cap] whose run from scratch, run(n) -> (result,
    objective), ends at or below `target`, found by doubling then bisection. Returns (n,
    result, objective) of that run; n = cap (not reached) if even cap falls short."""
    hi = start
    r_hi, f_hi = run(hi)
    while f_hi > target and hi < cap:
        hi = min(2 * hi, cap)
        r_hi, f_hi = run(hi)
    lo = hi // 2
    while f_hi <= target and hi - lo > 1:
        mid = (lo + hi) // 2
        r, f = run(mid)
        if f <= target:
            hi, r_hi, f_hi = mid, r, f
        else:
            lo = mid
    return hi, r_hi, f_hi


def peak_growth_mib(fn, warm=True):
    """MiB by which one call of fn raises the peak resident set (Linux): with warm, fn is called
    once first to settle lazy initialisation (memory an allocator keeps from that call then
    hides in the baseline); the peak (VmHWM) is reset to the current resident set by writing 5
    to /proc/self/clear_refs, and fn is called (again)."""

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB -> MiB
        raise RuntimeError(field + " not in /proc/self/status")

    if warm:
        fn()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    return status("VmHWM") - before
