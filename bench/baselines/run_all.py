"""Runs every baseline script's cases() in this folder and writes one JSON for bench/run.ts:

  {"device": name, "torch": version, "cases": {"<case>": {"eager_ms": x, "compile_ms": y|null, ...}}}

Case names equal the node bench case names, so `node dist/bench/run.js --baselines <json>` can
merge them. A baseline script is any *.py here except this one and _*.py (never name one after a
standard-library module: this folder comes first on sys.path); its cases() returns
{name: function returning {"eager_ms", "compile_ms"[, "bytes", "note"]}}; a function raises
_common.Skip(reason) where its case cannot run on this device (the reason is printed and listed
under "skipped" in the JSON).

--device cpu measures PyTorch on the CPU (time.perf_counter instead of CUDA events; the CPU sizes
of the node benches where those shrink on the CPU, so the names still match an
`ERA_DEVICE=cpu node dist/bench/run.js` run). The scripts read _common.DEVICE at import, so it
is set before they are loaded.

  python3 run_all.py --out baselines.json [--filter <substr>[|<substr>...]] [--eager-only <substr>[|...]] [--quick]
                    [--device cuda|cpu] [--threads n]

--eager-only (read as --filter is) names cases measured eager only: their compile_ms is null and no
compile time is spent on them (the GPU check passes the cases whose compiled figure no target reads:
the GEMMs, copy, era.gaussian).

A case that raises, or a script that fails to load, is printed and counted as failed (exit status 1);
the other cases still run. torch._dynamo is reset before each case, so each compiles afresh.

--filter is read as bench/run.ts reads it (bench/filter.ts): case-insensitive substrings, '|'
between alternatives, matched against the case name and the script's name (with '-' for '_', as
node's bench files are named); a term ending in '$' must end the name.
"""
import argparse
import gc
import importlib.util
import os
import pathlib
import sys
import traceback

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def filter_terms(flt):
    """A --filter value as its lower-case alternatives ('a|b' -> ['a', 'b']); none means everything."""
    return [t.strip() for t in (flt or "").lower().split("|") if t.strip() not in ("", "$")]


def _hit(term, name):
    name = name.lower()
    return name.endswith(term[:-1]) if term.endswith("$") else term in name


def matches_filter(terms, *names):
    """Whether any term occurs in (or, ending in '$', ends) one of the names; True where there are no terms."""
    return not terms or any(_hit(t, n) for t in terms for n in names)


def filter_rank(terms, *names):
    """The index of the first term the names match (0 without terms), as bench/filter.ts filterRank."""
    return next((i for i, t in enumerate(terms) if any(_hit(t, n) for n in names)), len(terms))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="where to write the JSON")
    parser.add_argument("--filter", help="only cases whose name or script contains this (case-insensitive; 'a|b' for either)")
    parser.add_argument("--eager-only", help="cases (a --filter-style match) measured without torch.compile")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke runs)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="what to measure (default cuda)")
    parser.add_argument("--cpu-call-limit", type=float, default=5.0, metavar="S",
                        help="CPU: skip a case whose single call takes longer than S seconds (default 5; 0: no limit)")
    parser.add_argument("--threads", type=int, help="CPU: torch.set_num_threads (default: one per CPU this process may "
                        "run on, era-cuda's CPU default; some torch builds start with 1)")
    args = parser.parse_args()

    import torch

    import _common

    if args.device == "cuda" and not torch.cuda.is_available():
        print("[baselines] torch sees no CUDA device; nothing to measure (--device cpu measures the CPU)", file=sys.stderr)
        return 1
    _common.QUICK = args.quick
    _common.DEVICE = args.device  # before the scripts are imported: they copy it at import
    if args.device == "cpu":
        _common.CPU_CALL_LIMIT_MS = 1e3 * args.cpu_call_limit if args.cpu_call_limit > 0 else float("inf")
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, args.threads or cpus or 1))
    print(f"[baselines] device {_common.device_name()}", file=sys.stderr, flush=True)
    terms = filter_terms(args.filter)
    eager_terms = filter_terms(args.eager_only)
    results, skipped, failures = {}, {}, 0
    selected = []
    for script in sorted(HERE.glob("*.py")):
        if script.name == "run_all.py" or script.name.startswith("_"):
            continue
        # A script that fails to load costs its own cases only: the others still run.
        try:
            spec = importlib.util.spec_from_file_location(f"baseline_{script.stem}", script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if not hasattr(module, "cases"):
                continue
            script_cases = module.cases()
        except Exception:  # noqa: BLE001 - report and go on with the other scripts
            print(f"[baselines] {script.name} failed to load:", file=sys.stderr, flush=True)
            traceback.print_exc()
            failures += 1
            continue
        for name, fn in script_cases.items():
            # The script's name with '_' read as '-' is the node bench's file name (era_logits.py /
            # era-logits.bench.ts), except device_copy.py, which holds node's copy and transfer cases.
            if matches_filter(terms, name, script.stem.replace("_", "-")):
                selected.append((filter_rank(terms, name, script.stem.replace("_", "-")), len(selected), script, name, fn))
    # In the order of the filter's terms (stable within one), as bench/run.ts runs its cases.
    for _, _, script, name, fn in sorted(selected, key=lambda x: x[:2]):
        _common.COMPILE = not (eager_terms and matches_filter(eager_terms, name, script.stem.replace("_", "-")))
        print(f"[baselines] {script.name}: {name}{'' if _common.COMPILE else ' (eager only)'} ...", file=sys.stderr, flush=True)
        try:
            # Each case compiles afresh: cases share functions (one lambda for every GEMM shape), and
            # their recompiles would otherwise reach dynamo's recompile limit and run eager.
            _common.reset_compiled()
            res = fn()
            print(f"[baselines]     eager {res['eager_ms']:.4g} ms, compile {res.get('compile_ms')}", file=sys.stderr, flush=True)
        except _common.Skip as why:
            print(f"[baselines]     skipped: {why}", file=sys.stderr, flush=True)
            skipped[name] = str(why)
            continue
        except Exception as err:  # noqa: BLE001 - record and go on with the other cases
            traceback.print_exc()
            failures += 1
            res = {"eager_ms": None, "compile_ms": None, "error": f"{type(err).__name__}: {err}"}
        if not _common.COMPILE:  # say why there is no compiled figure
            res["note"] = "; ".join(x for x in (res.get("note"), "eager only (run_all.py --eager-only)") if x)
        results[name] = res
        _common.write_results(args.out, results, args.quick, skipped, complete=False)
        gc.collect()
        _common.empty_cache()  # give the next case the whole device

    _common.write_results(args.out, results, args.quick, skipped)
    for name, why in skipped.items():
        print(f"[baselines] skipped {name}: {why}", file=sys.stderr)
    print(f"[baselines] wrote {args.out} ({len(results)} cases, {failures} failed, {len(skipped)} skipped)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
