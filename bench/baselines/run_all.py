"""Runs every baseline script's cases() in this folder and writes one JSON for bench/run.ts:

  {"device": name, "torch": version, "cases": {"<case>": {"eager_ms": x, "compile_ms": y|null, ...}}}

Case names equal the node bench case names, so `node dist/bench/run.js --baselines <json>` can
merge them. A baseline script is any *.py here except this one and _*.py (never name one after a
standard-library module: this folder comes first on sys.path); its cases() returns
{name: function returning {"eager_ms", "compile_ms"[, "bytes", "note"]}}.

  python3 run_all.py --out baselines.json [--filter <substr>] [--quick]
"""
import argparse
import gc
import importlib.util
import pathlib
import sys
import traceback

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="where to write the JSON")
    parser.add_argument("--filter", help="only cases whose name or script contains this")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke runs)")
    args = parser.parse_args()

    import torch

    import _common

    if not torch.cuda.is_available():
        print("[baselines] torch sees no CUDA device; nothing to measure", file=sys.stderr)
        return 1
    _common.QUICK = args.quick
    flt = (args.filter or "").lower()
    results, failures = {}, 0
    for script in sorted(HERE.glob("*.py")):
        if script.name == "run_all.py" or script.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"baseline_{script.stem}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "cases"):
            continue
        for name, fn in module.cases().items():
            if flt and flt not in name.lower() and flt not in script.stem.lower():
                continue
            print(f"[baselines] {script.name}: {name} ...", file=sys.stderr, flush=True)
            try:
                res = fn()
                print(f"[baselines]     eager {res['eager_ms']:.4g} ms, compile {res.get('compile_ms')}", file=sys.stderr, flush=True)
            except Exception as err:  # noqa: BLE001 - record and go on with the other cases
                traceback.print_exc()
                failures += 1
                res = {"eager_ms": None, "compile_ms": None, "error": f"{type(err).__name__}: {err}"}
            results[name] = res
            gc.collect()
            torch.cuda.empty_cache()  # give the next case the whole device

    _common.write_results(args.out, results, args.quick)
    print(f"[baselines] wrote {args.out} ({len(results)} cases, {failures} failed)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
