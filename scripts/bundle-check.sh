#!/usr/bin/env bash
# era-cuda GPU bundle: the open issues' GPU checks, each as one command that fits a short lease
# (copied to bundle/era-cuda-gpu/check.sh; run.sh check|table calls it with NODE set).
#
#   check.sh check <outdir> [--budget S] [--dry-run]
#     S seconds in all (default 560: one device command is at most 600 s). In order:
#     1. era info;
#     2. the whole suite (ERA_REQUIRE_CUDA=1), and beside it SAC+ERA on cartpole-swingup (100k steps,
#        3 seeds, hidden 512, batch 256, --graph) and a --quick pass of the PyTorch baselines that
#        only fills torch.compile's caches (its figures are thrown away);
#     3. alone on the GPU: a short training run for a clean updates/s figure, the PyTorch baselines
#        of the issue cases, then the era-cuda benches of the same cases;
#     4. targets.md (bench/targets.ts: each target, what was measured, met or missed).
#     Each stage stops at its share of S and keeps what it wrote (the benches write after every case).
#   check.sh table <outdir> [--budget S] [--steps N] [--tasks "cheetah-run walker-walk"] [--dry-run]
#     issue 5's SAC+ERA against classic SAC (3 seeds, N = 200000 steps): one process per task and
#     variant side by side, stopped at S (default 560), joined by `era train report`.
#
# --dry-run exercises the same steps on any host, on the CPU at toy sizes (the figures mean
# nothing): the way to test this script without a GPU.
#
# <outdir> gets at most 8 files (what a device call brings back): summary.md (tests, targets, bench
# table), test.log, bench.log, baselines.json, <device>.json, <device>.md, train.log and runs.tar.gz
# (metrics, curves and summaries of the training runs; no checkpoints). Exit status: the suite's.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${NODE:?check.sh is run by run.sh (check | table), which sets NODE}"

mode="${1:-}"
out="${2:-}"
[ -n "$mode" ] && [ -n "$out" ] || { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shift 2
budget=560
steps=200000
tasks="cheetah-run walker-walk"
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$budget$steps" in *[!0-9]*) echo "check.sh: --budget and --steps take whole numbers" >&2; exit 2 ;; esac

mkdir -p "$out" && out="$(cd "$out" && pwd)" || { echo "check.sh: cannot create $out" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/era-check.XXXXXX")" || exit 1
trap 'rm -rf "$work"' EXIT

t0=$(date +%s)
deadline=$((t0 + budget))
now() { date +%s; }
left() { local l=$((deadline - $(now))); [ "$l" -gt 0 ] && echo "$l" || echo 0; }
stamp() { echo "[check +$(($(now) - t0))s] $*"; }
# timeout(1) with TERM first: the node runs keep what they wrote; exit 124 means "cut at its time".
within() { local s="$1"; shift; [ "$s" -ge 5 ] || { echo "[check] no time left for: $*"; return 124; }; timeout -k 10 "$s" "$@"; }

# The cases the issues name (bench/targets.ts), as bench filters ('|' between terms, '$' ends a name).
BENCH_FILTER='copy 1GiB|era.logits fwd+bwd N=8192|era.softmaxCrossEntropy fwd+bwd B=65536|era.gaussian fwd+bwd|matmul 4096x4096x4096 bf16$|matmul 256x512x512 f32$|matmul 256x512x512 tf32$|matmul 256x512x512 bf16$|matmul 256x88x512|sac update'
# The PyTorch side: the same cases, one SAC update (each compiled update costs a minute of compiling).
BASE_FILTER='copy 1GiB|era.logits fwd+bwd N=8192|era.softmaxCrossEntropy fwd+bwd B=65536|era.gaussian fwd+bwd|matmul 4096x4096x4096 bf16$|matmul 256x512x512 f32$|matmul 256x512x512 tf32$|matmul 256x512x512 bf16$|matmul 256x88x512|sac update B=256 obs=67 act=21 f32$'

export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
mocha_env=(ERA_REQUIRE_CUDA=1 ERA_EXPECT_CUDA_BUILD=1)
bench_args=()
base_args=()
train_size=(--hidden 512 --batch-size 256)
cart_steps=100000
probe_steps=12000
if [ "$dry" = 1 ]; then
  export ERA_DEVICE=cpu
  mocha_env=(ERA_DEVICE=cpu)
  bench_args=(--quick)
  base_args=(--quick --device cpu)
  # Toy sizes, but the same code path (the CPU backend has no graphs: --graph is what CUDA uses).
  train_size=(--hidden 64 --batch-size 64 --warmup 500 --eval-episodes 1 --eval-every 500 --log-every 100)
  cart_steps=1500
  probe_steps=1200
  steps=$((steps < 1500 ? steps : 1500))
  BENCH_FILTER='copy|era.gaussian fwd+bwd|matmul 256x88x512 f32$'
  BASE_FILTER="$BENCH_FILTER"
fi
graph=(--graph)
[ "$dry" = 1 ] && graph=()

have_torch() { command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' >/dev/null 2>&1; }
era() { (cd "$HERE" && "$NODE" dist/lib/cli/era.js "$@"); }
baselines() { (cd "$HERE" && python3 bench/baselines/run_all.py "${base_args[@]}" "$@"); }

header() {
  {
    echo "# era-cuda GPU $mode, $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$dry" = 1 ] && echo ' (DRY RUN on the CPU: figures mean nothing)')"
    echo
    echo "host: $(uname -srm), $(nproc) CPUs; node $("$NODE" --version); budget ${budget} s"
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
    else
      echo "gpu: nvidia-smi not found"
    fi
    echo
  } >"$out/summary.md"
}

pack_runs() {
  local dirs=()
  for d in "$@"; do [ -d "$work/$d" ] && dirs+=("$d"); done
  [ ${#dirs[@]} -gt 0 ] || return 0
  # Checkpoints (replay buffers) stay behind: a device call brings back at most 16 MiB a file.
  tar -czf "$out/runs.tar.gz" -C "$work" --exclude='*.safetensors' --exclude='*.tmp' "${dirs[@]}"
}

run_check() {
  header
  stamp "era info" | tee "$out/bench.log"
  era info 2>&1 | tee -a "$out/bench.log" | tee "$work/info.txt"
  { echo '```'; cat "$work/info.txt"; echo '```'; echo; } >>"$out/summary.md"

  # --- 2. the suite, with the cartpole-swingup run and the torch.compile warm-up beside it ------
  local p1_end=$((t0 + budget * 45 / 100))
  stamp "cartpole-swingup SAC+ERA (${cart_steps} steps, 3 seeds) in the background" | tee "$out/train.log"
  within $((p1_end - $(now))) "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task cartpole-swingup --steps "$cart_steps" --seeds 3 \
    "${train_size[@]}" "${graph[@]}" --checkpoint-every 1000000 --no-save-replay --out "$work/cartpole-swingup" >>"$out/train.log" 2>&1 &
  local train_pid=$!
  local warm_pid=
  if have_torch; then
    stamp "torch.compile warm-up (--quick baselines, figures discarded) in the background" | tee -a "$out/bench.log"
    (within $((p1_end - $(now))) python3 "$HERE/bench/baselines/run_all.py" "${base_args[@]}" --quick --filter "$BASE_FILTER" --out "$work/warm.json") >"$work/warm.log" 2>&1 &
    warm_pid=$!
  fi
  stamp "test suite" | tee "$out/test.log"
  # The suite may run past the training's share, but not into the benches' (a hang must not eat them).
  local suite_end=$((t0 + budget * 55 / 100))
  (cd "$HERE" && env "${mocha_env[@]}" timeout -k 10 $((suite_end - $(now))) "$NODE" node_modules/mocha/bin/mocha.js --config .mocharc.json) >>"$out/test.log" 2>&1
  local trc=$?
  stamp "suite exit $trc; waiting for the training run (until +$((p1_end - t0))s)" | tee -a "$out/test.log"
  wait "$train_pid"
  local train_rc=$?
  stamp "cartpole-swingup exit $train_rc$([ $train_rc = 124 ] && echo ' (cut at its time)')" | tee -a "$out/train.log"
  if [ -n "$warm_pid" ]; then
    wait "$warm_pid"
    { stamp "warm-up exit $?"; tail -n 5 "$work/warm.log"; } >>"$out/bench.log"
  fi

  # --- 3. alone on the GPU --------------------------------------------------------------------
  stamp "throughput run: cartpole-swingup ${probe_steps} steps, 3 seeds, alone on the device" | tee -a "$out/train.log"
  within "$(($(left) < 90 ? $(left) : 90))" "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task cartpole-swingup --steps "$probe_steps" --seeds 3 \
    "${train_size[@]}" "${graph[@]}" --eval-every 1000000 --eval-episodes 1 --checkpoint-every 1000000 --no-save-replay --out "$work/throughput" >>"$out/train.log" 2>&1
  stamp "throughput run exit $?" | tee -a "$out/train.log"

  local base=()
  if have_torch; then
    local bl=$(( ($(left) - 20) * 55 / 100 ))
    stamp "PyTorch baselines (up to ${bl} s)" | tee -a "$out/bench.log"
    within "$bl" python3 "$HERE/bench/baselines/run_all.py" "${base_args[@]}" --filter "$BASE_FILTER" --out "$out/baselines.json" >>"$out/bench.log" 2>&1
    stamp "baselines exit $?" | tee -a "$out/bench.log"
    [ -f "$out/baselines.json" ] && base=(--baselines "$out/baselines.json")
  else
    stamp "python3 with torch not found: no PyTorch baselines" | tee -a "$out/bench.log"
  fi
  stamp "era-cuda benches (up to $(($(left) - 15)) s)" | tee -a "$out/bench.log"
  (cd "$HERE" && within $(($(left) - 15)) "$NODE" dist/bench/run.js "${bench_args[@]}" "${base[@]}" --filter "$BENCH_FILTER" --out "$out") >>"$out/bench.log" 2>&1
  stamp "benches exit $?" | tee -a "$out/bench.log"

  # --- 4. the verdicts ------------------------------------------------------------------------
  local json
  json=$(ls "$out"/*.json 2>/dev/null | grep -v '/baselines.json$' | head -n 1)
  {
    echo "## tests (exit $trc$([ $trc = 124 ] && echo ', cut at the time limit'))"
    echo
    grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/test.log" || echo "(no closing count in test.log)"
    grep -E '^ +[0-9]+\) ' "$out/test.log" | head -n 20
    echo
    (cd "$HERE" && "$NODE" dist/bench/targets.js ${json:+--bench "$json"} --train "$work/cartpole-swingup" --throughput "$work/throughput")
    echo
    echo "## benches"
    echo
    [ -n "$json" ] && sed '1,2d' "${json%.json}.md" || echo "(no bench results)"
  } >>"$out/summary.md" 2>&1
  pack_runs cartpole-swingup throughput
  stamp "done" | tee -a "$out/bench.log"
  cat "$out/summary.md"
  return "$trc"
}

run_table() {
  header
  # One process per task and variant, side by side (SAC+ERA replays CUDA graphs; classic SAC runs
  # eagerly), all writing into <task>/era or <task>/sac; `era train report` then joins each pair.
  local pids=() names=() t v flags
  for t in $tasks; do
    for v in era sac; do
      flags=("${graph[@]}")
      [ "$v" = sac ] && flags=(--baseline-only)
      stamp "$t $v: ${steps} steps, 3 seeds" | tee -a "$out/train.log"
      within $(($(left) - 20)) "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task "$t" --steps "$steps" --seeds 3 \
        "${train_size[@]}" "${flags[@]}" --checkpoint-every 1000000 --no-save-replay --out "$work/$t" >"$work/$t-$v.log" 2>&1 &
      pids+=($!)
      names+=("$t-$v")
    done
  done
  local i rc=0 r
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    r=$?
    [ "$r" -ne 0 ] && rc=$r
    { stamp "${names[$i]} exit $r$([ $r = 124 ] && echo ' (cut at the time limit)')"; cat "$work/${names[$i]}.log"; } >>"$out/train.log"
  done
  local dirs=()
  for t in $tasks; do
    dirs+=(--table "$work/$t")
    era train report "$work/$t" >>"$out/train.log" 2>&1
  done
  {
    (cd "$HERE" && "$NODE" dist/bench/targets.js "${dirs[@]}")
    for t in $tasks; do [ -f "$work/$t/summary.md" ] && { cat "$work/$t/summary.md"; echo; }; done
    local common="--steps ${steps} --seeds 3 ${train_size[*]} --checkpoint-every 1000000 --no-save-replay --out T"
    echo "Commands, for each task T side by side: \`era train sac --task T ${common}${graph[*]:+ ${graph[*]}}\`," \
      "\`era train sac --task T ${common} --baseline-only\`, then \`era train report T\`."
  } >>"$out/summary.md" 2>&1
  pack_runs $tasks
  stamp "done" | tee -a "$out/train.log"
  cat "$out/summary.md"
  return "$rc"
}

case "$mode" in
  check) run_check ;;
  table) run_table ;;
  *) echo "check.sh: the mode is check or table, not $mode" >&2; exit 2 ;;
esac
