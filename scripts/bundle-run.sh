#!/usr/bin/env bash
# era-cuda GPU bundle (made by `npm run bundle:gpu`; copied to bundle/era-cuda-gpu/run.sh).
# Runs the compiled tests and benches on a Linux x86-64 host with an NVIDIA driver and no Node.js:
# the bundled node.xz is unpacked once to $TMPDIR (default /tmp) and reused.
#
#   ./run.sh test  <outdir> [mocha args...]   compiled test suite, ERA_REQUIRE_CUDA=1 (GPU tests fail, not skip)
#                                             and ERA_EXPECT_CUDA_BUILD=1 (the CUDA addon must load)
#   ./run.sh bench <outdir> [--quick] [--filter <substr>]
#                                             era info, PyTorch baselines (if python3 has torch), node benches
#   ./run.sh all   <outdir> [bench args...]   test, then bench
#   ./run.sh check <outdir> [--budget S]      the issues' GPU checks in one command that fits a short lease:
#                                             suite, training, baselines and benches of the issue cases,
#                                             targets.md (check.sh's header says how; --dry-run on a CPU)
#   ./run.sh table <outdir> [--budget S] [--steps N]
#                                             issue 5's SAC+ERA vs SAC runs on cheetah-run and walker-walk
#   ./run.sh node  <args...>                  the bundled node, for ad-hoc scripts
#
# <outdir> receives test.log, bench.log, summary.md, baselines.json, <device>.json and <device>.md.
# The exit status is the first failure's (mocha's count of failed tests, the bench's, the baselines').
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The humanoid tasks' model travels in the bundle (the GPU hosts lack Debian's libmujoco-samples).
if [ -z "${ERA_HUMANOID_XML:-}" ] && [ -f "$HERE/assets/mujoco/humanoid.xml" ] && [ ! -f /usr/share/mujoco/model/humanoid/humanoid.xml ]; then
  export ERA_HUMANOID_XML="$HERE/assets/mujoco/humanoid.xml"
fi
NODE_DIR="${TMPDIR:-/tmp}/era-cuda-node-$(cat "$HERE/node.id")"
NODE="$NODE_DIR/node"

usage() {
  # The header comment above is the help text.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$HERE/run.sh" >&2
  exit 2
}

# Unpacks an .xz file once (xz, or Python's lzma where xz is absent); the rename makes it atomic.
unxz_once() {
  local src="$1" dst="$2"
  [ -s "$dst" ] && return 0
  mkdir -p "$(dirname "$dst")" || return 1
  local tmp="$dst.tmp.$$"
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$src" >"$tmp"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$src" "$tmp"
  else
    echo "run.sh: need xz or python3 to unpack $src" >&2
    false
  fi || { rm -f "$tmp"; echo "run.sh: could not unpack $src to $dst" >&2; return 1; }
  chmod 755 "$tmp" && mv -f "$tmp" "$dst"
}

# The Node runtime goes to $TMPDIR once; the CUDA addon (shipped compressed: its fatbin is most of
# the bundle) is unpacked beside its .xz.
ensure_node() {
  unxz_once "$HERE/node.xz" "$NODE" || return 1
  unxz_once "$HERE/build/Release/era_cuda.node.xz" "$HERE/build/Release/era_cuda.node" || return 1
  chmod +x "$HERE"/build/Release/era_*_selftest 2>/dev/null  # in case a copy lost the mode bits
  # Other large runtime files (MuJoCo's wasm, the PNG renderer) listed by the bundler.
  local f
  if [ -f "$HERE/unpack.txt" ]; then
    while IFS= read -r f; do
      [ -n "$f" ] && { unxz_once "$HERE/$f.xz" "$HERE/$f" || return 1; }
    done <"$HERE/unpack.txt"
  fi
  return 0
}

summary_header() {
  local out="$1"
  {
    echo "# era-cuda GPU bundle run, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "host: $(uname -srm); node $("$NODE" --version)"
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
    else
      echo "gpu: nvidia-smi not found"
    fi
    echo
  } >"$out/summary.md"
}

run_tests() {
  local out="$1"
  shift
  # The bundle always ships the CUDA build, so the test that expects it runs too.
  (cd "$HERE" && ERA_REQUIRE_CUDA=1 ERA_EXPECT_CUDA_BUILD=1 "$NODE" node_modules/mocha/bin/mocha.js --config .mocharc.json "$@") 2>&1 | tee "$out/test.log"
  local rc=${PIPESTATUS[0]}
  {
    echo "## tests (exit $rc)"
    echo
    # The CI reporter's closing line, else mocha's own counts.
    grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/test.log" ||
      grep -E '^ +[0-9]+ (passing|failing|pending)' "$out/test.log" || echo "(no test counts in test.log)"
    echo
  } >>"$out/summary.md"
  return "$rc"
}

run_bench() {
  local out="$1"
  shift
  local log="$out/bench.log" rc=0 brc=0
  : >"$log"
  {
    echo "== era info"
    if [ -f "$HERE/dist/lib/cli/era.js" ]; then
      (cd "$HERE" && "$NODE" dist/lib/cli/era.js info)
    else
      (cd "$HERE" && "$NODE" --input-type=module -e "import era from './dist/lib/index.js'; console.log(JSON.stringify(era.info(), null, 2))")
    fi
  } 2>&1 | tee -a "$log"

  local base=()
  echo "== PyTorch baselines" | tee -a "$log"
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' >/dev/null 2>&1; then
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 python3 "$HERE/bench/baselines/run_all.py" --out "$out/baselines.json" "$@" 2>&1 | tee -a "$log"
    brc=${PIPESTATUS[0]}
    [ -f "$out/baselines.json" ] && base=(--baselines "$out/baselines.json")
  else
    echo "python3 with torch not found: PyTorch baselines skipped" | tee -a "$log"
  fi

  echo "== era-cuda benches" | tee -a "$log"
  (cd "$HERE" && "$NODE" dist/bench/run.js "${base[@]}" --out "$out" "$@") 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  {
    echo "## bench (exit $rc; PyTorch baselines: $([ ${#base[@]} -gt 0 ] && echo "exit $brc" || echo none))"
    echo
    for f in "$out"/*.md; do
      [ "$f" = "$out/summary.md" ] || sed '1,2d' "$f"
    done
  } >>"$out/summary.md"
  [ "$rc" -ne 0 ] && return "$rc"
  return "$brc"
}

[ $# -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
  node)
    ensure_node || exit 1
    exec "$NODE" "$@"
    ;;
  check | table)
    [ $# -ge 1 ] || usage
    # The budget counts from here, unpacking included.
    export ERA_CHECK_T0="$(date +%s)"
    ensure_node || exit 1
    NODE="$NODE" exec bash "$HERE/check.sh" "$cmd" "$@"
    ;;
  test | bench | all)
    [ $# -ge 1 ] || usage
    out="$(mkdir -p "$1" && cd "$1" && pwd)" || { echo "run.sh: cannot create $1" >&2; exit 1; }
    shift
    ensure_node || exit 1
    summary_header "$out"
    case "$cmd" in
      test) run_tests "$out" "$@" ;;
      bench) run_bench "$out" "$@" ;;
      all)
        run_tests "$out"
        trc=$?
        run_bench "$out" "$@"
        brc=$?
        [ "$trc" -ne 0 ] && exit "$trc"
        exit "$brc"
        ;;
    esac
    ;;
  *) usage ;;
esac
