#!/usr/bin/env bash
# era-cuda GPU bundle: the open issues' GPU checks, each as one command that fits a short lease
# (copied to bundle/era-cuda-gpu/check.sh; run.sh check|table calls it with NODE set).
#
#   check.sh check <outdir> [--budget S] [--dry-run]
#     S seconds in all (default 560; give the device command a timeout a little above it). In order:
#     1. era info;
#     2. the whole suite (ERA_REQUIRE_CUDA=1, ERA_CUDA_POISON=1; a process per test file, failing files run again with
#        ERA_CUDA_SYNC=1), and beside it SAC+ERA on cartpole-swingup (100k steps,
#        3 seeds, hidden 512, batch 256, --graph) and a --quick pass of the PyTorch baselines that
#        only fills torch.compile's caches (its figures are thrown away);
#     3. alone on the GPU: a short one-seed training run for a clean updates/s figure, the PyTorch baselines
#        of the issue cases, then the era-cuda benches of the same cases;
#     4. the verdicts (bench/targets.ts: each target, what was measured, met / missed / not measured).
#     Each stage stops at its share of S and keeps what it wrote; summary.md and runs.tar.gz are
#     rebuilt after every stage (and on SIGTERM), so a command cut short still brings back results.
#   check.sh table <outdir> [--budget S] [--steps N] [--tasks "cheetah-run walker-walk"] [--dry-run]
#     issue 5's SAC+ERA against classic SAC (3 seeds, N = 200000 steps): one process per task and
#     variant side by side, stopped at S (default 560), joined by `era train report`.
#
# --dry-run exercises the same steps on any host, on the CPU at toy sizes (the figures mean
# nothing): the way to test this script without a GPU.
#
# <outdir> must be empty or new. It gets at most 8 files (what a device call brings back): summary.md
# (tests, targets, bench table), test.log, bench.log, baselines.json, <device>.json, <device>.md,
# train.log and runs.tar.gz (metrics, curves and summaries of the training runs; no checkpoints).
# Exit status: 0 when every stage finished and every test passed; 1 when a test, bench or training
# run failed; 3 when a stage was cut at its time (never 124, which reads as the command timing out).
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${NODE:?check.sh is run by run.sh (check | table), which sets NODE}"

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mode="${1:-}"
out="${2:-}"
[ -n "$mode" ] && [ -n "$out" ] || usage
shift 2
budget=560
steps=200000
tasks="cheetah-run walker-walk"
dry=0
# A whole number of at least `min`, read in base 10 ("0560" is 560, not octal).
whole() {
  case "$2" in '' | *[!0-9]*) echo "check.sh: $1 takes a whole number, not '$2'" >&2; exit 2 ;; esac
  local n=$((10#$2))
  [ "$n" -ge "$3" ] || { echo "check.sh: $1 must be at least $3, not $n" >&2; exit 2; }
  echo "$n"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget=$(whole --budget "${2:-}" 60) || exit 2; shift 2 ;;
    --steps) steps=$(whole --steps "${2:-}" 1) || exit 2; shift 2 ;;
    --tasks) tasks="${2:-}"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

mkdir -p "$out" && out="$(cd "$out" && pwd)" || { echo "check.sh: cannot create $out" >&2; exit 1; }
if [ -n "$(ls -A "$out")" ]; then
  echo "check.sh: $out is not empty; give a new or empty folder (the results must be this run's, at most 8 files)" >&2
  exit 2
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/era-check.XXXXXX")" || exit 1

# run.sh sets ERA_CHECK_T0 before it unpacks Node, so the unpacking counts against the budget too.
t0=${ERA_CHECK_T0:-$(date +%s)}
deadline=$((t0 + budget))
now() { date +%s; }
left() { local l=$((deadline - $(now))); [ "$l" -gt 0 ] && echo "$l" || echo 0; }
stamp() { echo "[check +$(($(now) - t0))s] $*"; }
cut() { [ "$1" = 124 ] || [ "$1" = 137 ]; }  # timeout(1): TERM sent (124), or KILL after it (137)
said() { cut "$1" && echo "$1, cut at its time" || echo "$1"; }
# timeout(1), TERM first (the node runs keep what they wrote), KILL 10 s later; under 5 s: not run.
within() {
  local s="$1"; shift
  [ "$s" -ge 5 ] || { echo "[check] no time left for: $*"; return 124; }
  timeout -k 10 "$s" "$@"
}
# `stage <log> <command...>`: runs a stage in the background, appending to <log>, and waits for it.
# bash runs a trap only between commands, but a wait is interruptible, so a TERM to this script is
# handled at once (on_term) even mid-stage. (The redirection must be on the background command: a
# function called with a redirection is not interrupted.)
stage() { local log="$1"; shift; "$@" >>"$log" 2>&1 & wait $!; }
# The command in folder $1 (in the subshell stage makes: this shell stays where it is).
run_in() { local d="$1"; shift; cd "$d" && "$@"; }
# The suite, one mocha process per test file (until epoch second $1), so a fault that loses the
# CUDA context (after it every CUDA call in the process fails) fails only its own file. Each file
# that fails is run once more with ERA_CUDA_SYNC=1, time allowing: there every op waits for its
# own work, so a faulting kernel is reported by its own op. No file may take more than half the
# suite's time (on the CPU here the longest takes a tenth of it), so one that hangs, a kernel that
# never finishes, still leaves time for the files after it. Ends with the summed closing line;
# returns 0, 1 (a failure) or 124 (cut: the files not reached are named).
suite_per_file() {
  local end="$1" cfg="$work/mocharc-one.json" f r line p=0 fl=0 sk=0 cut_at="" was_cut=0 other_fail=0 failed=()
  local per_file=$(((end - $(now)) / 2)) limit
  local count='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
  # The bundle's config without its spec (a file named on the command line adds to the spec).
  "$NODE" -e 'const fs = require("fs"); const c = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); delete c.spec; fs.writeFileSync(process.argv[2], JSON.stringify(c));' \
    .mocharc.json "$cfg" || return 1
  for f in dist/test/*.test.js; do
    if [ $((end - $(now))) -lt 5 ]; then cut_at="${cut_at:+$cut_at }$f"; continue; fi
    limit=$((end - $(now)))
    [ "$limit" -le "$per_file" ] || limit=$per_file
    echo "=== $f"
    # Streamed (a stop mid-file keeps what it printed); the file's own closing line is indented
    # so that only the sum below reads as the suite's.
    within "$limit" env "${mocha_env[@]}" "$NODE" node_modules/mocha/bin/mocha.js --config "$cfg" "$f" 2>&1 |
      tee "$work/one.log" | sed -E "s/($count)/  (this file) \1/"
    r=${PIPESTATUS[0]}
    if cut "$r" && [ "$limit" -lt "$per_file" ]; then
      was_cut=1
    elif cut "$r"; then
      other_fail=1  # stopped at its own limit, with suite time left: it hung
      echo "  (this file) stopped after its limit of ${limit} s (half the suite's time): it hung or is far too slow"
    elif [ "$r" != 0 ]; then
      other_fail=1
    fi
    line=$(grep -E "$count" "$work/one.log" | tail -n 1)
    if [ -n "$line" ]; then
      set -- $line
      p=$((p + $1)); fl=$((fl + $3)); sk=$((sk + $5))
      [ "$r" = 0 ] || [ "$3" -gt 0 ] || fl=$((fl + 1))  # exited non-zero with no failed test counted
    else
      fl=$((fl + 1))  # no closing line: it crashed or was cut
      echo "  (this file) exit $(said "$r") without a closing count: counted as 1 failed"
    fi
    [ "$r" = 0 ] || failed+=("$f")
  done
  for f in ${failed[@]+"${failed[@]}"}; do
    [ $((end - $(now))) -ge 30 ] || { echo "=== no time left to rerun $f with ERA_CUDA_SYNC=1"; continue; }
    echo "=== $f again with ERA_CUDA_SYNC=1 (each op waits for its work; not counted above)"
    limit=$((end - $(now)))
    [ "$limit" -le "$per_file" ] || limit=$per_file
    within "$limit" env "${mocha_env[@]}" ERA_CUDA_SYNC=1 "$NODE" node_modules/mocha/bin/mocha.js --config "$cfg" "$f" 2>&1 |
      sed -E "s/($count)/  (sync rerun) \1/"
  done
  [ -z "$cut_at" ] || { echo "=== cut at the suite's time; not run: $cut_at"; was_cut=1; }
  echo
  echo "$p passed, $fl failed, $sk skipped"
  # A failure outranks a cut (as note_rc ranks them); a file stopped at the deadline is a cut.
  if [ "$other_fail" = 1 ]; then return 1; fi
  if [ "$was_cut" = 1 ]; then return 124; fi
  [ "$fl" = 0 ]
}

status=0
# The script's status: a cut stage is 3, any other failure 1 (1 wins).
note_rc() { if [ "$1" -ne 0 ]; then if cut "$1"; then [ "$status" = 0 ] && status=3; else status=1; fi; fi; }

# The cases the issues name (bench/targets.ts), as bench filters ('|' between terms, '$' ends a name).
# Cases run in the order of the terms: the cheap ones first, the logits (seconds of setup each) last,
# so a stage cut at its time has measured as many targets as it could.
BENCH_FILTER='copy 1GiB|era.gaussian fwd+bwd|matmul 256x512x512 f32$|matmul 256x512x512 tf32$|matmul 256x512x512 bf16$|matmul 256x88x512|sac update|matmul 4096x4096x4096 bf16$|matmul 4096x4096x4096 bf16 mma.sync$|era.softmaxCrossEntropy fwd+bwd B=65536|era.logits fwd+bwd N=8192'
# The PyTorch side: the same cases, one SAC update. The three targets read against torch.compile
# (softmaxCrossEntropy, logits f32 and bf16) come before the SAC update, whose compiled form costs
# the most compiling (the warm-up pass fills the compile cache first): a stage cut at its time
# loses the SAC comparison row (issue 4's fixed 3000/s row does not need PyTorch).
BASE_FILTER='copy 1GiB|era.gaussian fwd+bwd|matmul 256x512x512 f32$|matmul 256x512x512 tf32$|matmul 256x512x512 bf16$|matmul 256x88x512|matmul 4096x4096x4096 bf16$|era.softmaxCrossEntropy fwd+bwd B=65536|era.logits fwd+bwd N=8192|sac update B=256 obs=67 act=21 f32$'

# Cases whose compiled figure no target reads (the GEMM, gaussian and copy targets read PyTorch
# eager): measured eager only (run_all.py --eager-only), no compile time spent on them.
EAGER_ONLY='matmul|copy 1GiB|era.gaussian'

export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# ERA_CUDA_POISON: fresh and reused blocks hold NaN, so a kernel reading memory nothing wrote fails its test.
mocha_env=(ERA_REQUIRE_CUDA=1 ERA_EXPECT_CUDA_BUILD=1 ERA_CUDA_POISON=1)
bench_args=()
base_args=()
train_size=(--hidden 512 --batch-size 256)
graph=(--graph)
cart_steps=100000
probe_steps=12000
if [ "$dry" = 1 ]; then
  export ERA_DEVICE=cpu
  mocha_env=(ERA_DEVICE=cpu)
  bench_args=(--quick)
  base_args=(--quick --device cpu)
  # Toy sizes, but the same code path (the CPU backend has no graphs: --graph is what CUDA uses).
  train_size=(--hidden 64 --batch-size 64 --warmup 500 --eval-episodes 1 --eval-every 500 --log-every 100)
  graph=()
  cart_steps=1500
  probe_steps=1200
  steps=$((steps < 1500 ? steps : 1500))
  BENCH_FILTER='copy 64MiB|era.gaussian fwd+bwd|matmul 256x88x512 f32$'
  BASE_FILTER="$BENCH_FILTER"
fi

torch_ok=0
command -v python3 >/dev/null 2>&1 && timeout 120 python3 -c 'import torch' >/dev/null 2>&1 && torch_ok=1

header() {
  echo "# era-cuda GPU $mode, $(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)$([ "$dry" = 1 ] && echo ' (DRY RUN on the CPU: figures mean nothing)')"
  echo
  echo "host: $(uname -srm), $(nproc) CPUs; node $("$NODE" --version); budget ${budget} s, $(($(now) - t0)) s used when this was written"
  echo "gpu: $(cat "$work/gpu.txt" 2>/dev/null)"
  echo
}

pack_runs() {
  local dirs=() d
  for d in "$@"; do [ -d "$work/$d" ] && dirs+=("$d"); done
  [ ${#dirs[@]} -gt 0 ] || return 0
  # Checkpoints (replay buffers) stay behind: a device call brings back at most 16 MiB a file.
  tar -czf "$work/runs.tar.gz" -C "$work" --exclude='*.safetensors' --exclude='*.tmp' "${dirs[@]}" 2>/dev/null &&
    mv -f "$work/runs.tar.gz" "$out/runs.tar.gz"
}

# The bench JSON of this run: run.js names it after the device; baselines.json is PyTorch's.
bench_json() { ls "$out"/*.json 2>/dev/null | grep -v '/baselines\.json$' | head -n 1; }

# --- the summary, rebuilt whole after every stage (and on SIGTERM) ---------------------------
finalize_check() {
  rm -f "$out"/*.tmp "$out"/.*.tmp  # a write cut between its temp file and the rename (bench: hidden names)
  local json
  json=$(bench_json)
  {
    header
    if [ -f "$work/info.txt" ]; then echo '```'; cat "$work/info.txt"; echo '```'; echo; fi
    echo "## tests (${suite_said:-not finished})"
    echo
    grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/test.log" 2>/dev/null || echo "(no closing count in test.log yet)"
    grep -E '^ +[0-9]+\) ' "$out/test.log" 2>/dev/null | head -n 20
    echo
    echo "Stages: ${stages:-none finished}."
    echo
    (cd "$HERE" && timeout 60 "$NODE" dist/bench/targets.js --bench "${json:-$out/<no bench json>}" \
      --train "$work/cartpole-swingup" --throughput "$work/throughput")
    echo
    echo "## benches"
    echo
    if [ -n "$json" ] && [ -f "${json%.json}.md" ]; then sed '1,2d' "${json%.json}.md"; else echo "(no bench results)"; fi
  } >"$work/summary.md" 2>&1
  mv -f "$work/summary.md" "$out/summary.md"
  pack_runs cartpole-swingup throughput
}

finalize_table() {
  local dirs=() t
  for t in $tasks; do dirs+=(--table "$work/$t"); done
  {
    header
    echo "Stages: ${stages:-none finished}."
    echo
    (cd "$HERE" && timeout 60 "$NODE" dist/bench/targets.js "${dirs[@]}")
    for t in $tasks; do [ -f "$work/$t/summary.md" ] && { cat "$work/$t/summary.md"; echo; }; done
    local common="--steps ${steps} --seeds 3 ${train_size[*]} --checkpoint-every 1000000 --no-save-replay --out T"
    echo "Commands, for each task T side by side: \`era train sac --task T ${common}${graph[*]:+ ${graph[*]}}\`," \
      "\`era train sac --task T ${common}${graph[*]:+ ${graph[*]}} --baseline-only\`, then \`era train report T\`."
  } >"$work/summary.md" 2>&1
  mv -f "$work/summary.md" "$out/summary.md"
  pack_runs $tasks
}

finalize() { if [ "$mode" = check ]; then finalize_check; else finalize_table; fi; }
# Every process below this script, leaves first (a stage's timeout(1) passes TERM on to its command).
stop_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do stop_tree "$c"; done
  [ "$1" = "$$" ] || kill -TERM "$1" 2>/dev/null
}
on_term() {
  trap - TERM INT
  stamp "terminated: stopping the stages and writing what there is" >&2
  stop_tree "$$"
  sleep 2
  stages="${stages:+$stages; }terminated at +$(($(now) - t0))s"
  finalize
  exit 3
}
trap on_term TERM INT
trap 'rm -rf "$work"' EXIT

gpu_info() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_mode --format=csv,noheader 2>&1 |
      head -n 4 | tr '\n' ';'
  else
    echo "nvidia-smi not found"
  fi
}

run_check() {
  gpu_info >"$work/gpu.txt"
  stamp "era info" | tee "$out/bench.log"
  stage "$work/info.txt" within 60 "$NODE" "$HERE/dist/lib/cli/era.js" info
  cat "$work/info.txt" >>"$out/bench.log"
  stages="era info"
  finalize

  # --- 2. the suite, with the cartpole-swingup run and the torch.compile warm-up beside it ------
  local p1_end=$((t0 + budget * 45 / 100))
  stamp "cartpole-swingup SAC+ERA (${cart_steps} steps, 3 seeds) in the background, until +$((p1_end - t0))s" | tee "$out/train.log"
  within $((p1_end - $(now))) "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task cartpole-swingup --steps "$cart_steps" --seeds 3 \
    "${train_size[@]}" "${graph[@]}" --checkpoint-every 1000000 --no-save-replay --out "$work/cartpole-swingup" >>"$out/train.log" 2>&1 &
  local train_pid=$! warm_pid=
  if [ "$torch_ok" = 1 ]; then
    stamp "torch.compile warm-up (--quick baselines, figures discarded) in the background" | tee -a "$out/bench.log"
    within $((p1_end - $(now))) python3 "$HERE/bench/baselines/run_all.py" "${base_args[@]}" --quick --filter "$BASE_FILTER" --eager-only "$EAGER_ONLY" --out "$work/warm.json" >"$work/warm.log" 2>&1 &
    warm_pid=$!
  fi
  # The suite may run past the training's share, but not into the benches' (a hang must not eat them).
  local suite_end=$((t0 + budget * 55 / 100))
  stamp "test suite, until +$((suite_end - t0))s" | tee "$out/test.log"
  stage "$out/test.log" run_in "$HERE" suite_per_file "$suite_end"
  local rc=$?
  note_rc "$rc"
  suite_said="exit $(said "$rc")"
  stamp "suite $suite_said" | tee -a "$out/test.log"
  stages="era info; suite $suite_said"
  finalize
  wait "$train_pid"
  rc=$?
  # A cut training run is expected where the GPU is slow; it counts as cut, its metrics still count.
  note_rc "$rc"
  stamp "cartpole-swingup exit $(said "$rc")" | tee -a "$out/train.log"
  stages="$stages; cartpole-swingup exit $(said "$rc")"
  if [ -n "$warm_pid" ]; then
    wait "$warm_pid"
    rc=$?
    { stamp "warm-up exit $(said "$rc")"; tail -n 5 "$work/warm.log"; } >>"$out/bench.log"
  fi
  finalize

  # --- 3. alone on the GPU --------------------------------------------------------------------
  local probe_time=$(($(left) < 90 ? $(left) : 90))
  # One seed: each update is then one agent's gradient step at batch 256, the issue's unit.
  stamp "throughput run: cartpole-swingup ${probe_steps} steps, 1 seed, alone on the device (up to ${probe_time} s)" | tee -a "$out/train.log"
  stage "$out/train.log" within "$probe_time" "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task cartpole-swingup --steps "$probe_steps" --seeds 1 \
    "${train_size[@]}" "${graph[@]}" --eval-every 1000000 --eval-episodes 1 --checkpoint-every 1000000 --no-save-replay --out "$work/throughput"
  rc=$?
  note_rc "$rc"
  stamp "throughput run exit $(said "$rc")" | tee -a "$out/train.log"
  stages="$stages; throughput run exit $(said "$rc")"
  finalize

  local base=()
  if [ "$torch_ok" = 1 ]; then
    local bl=$((($(left) - 20) * 55 / 100))
    stamp "PyTorch baselines (up to ${bl} s)" | tee -a "$out/bench.log"
    stage "$out/bench.log" within "$bl" python3 "$HERE/bench/baselines/run_all.py" "${base_args[@]}" --filter "$BASE_FILTER" --eager-only "$EAGER_ONLY" --out "$out/baselines.json"
    rc=$?
    note_rc "$rc"
    stamp "baselines exit $(said "$rc")" | tee -a "$out/bench.log"
    stages="$stages; baselines exit $(said "$rc")"
    rm -f "$out"/*.tmp "$out"/.*.tmp
    [ -f "$out/baselines.json" ] && base=(--baselines "$out/baselines.json")
  else
    stamp "python3 with torch not found: no PyTorch baselines" | tee -a "$out/bench.log"
    stages="$stages; no PyTorch baselines (no torch)"
  fi
  finalize
  stamp "era-cuda benches (up to $(($(left) - 15)) s)" | tee -a "$out/bench.log"
  stage "$out/bench.log" run_in "$HERE" within $(($(left) - 15)) "$NODE" dist/bench/run.js "${bench_args[@]}" "${base[@]}" --filter "$BENCH_FILTER" --out "$out"
  rc=$?
  note_rc "$rc"
  stamp "benches exit $(said "$rc")" | tee -a "$out/bench.log"
  stages="$stages; benches exit $(said "$rc")"

  # --- 4. the verdicts ------------------------------------------------------------------------
  finalize
  stamp "done (status $status)" | tee -a "$out/bench.log"
  cat "$out/summary.md"
}

run_table() {
  gpu_info >"$work/gpu.txt"
  # One process per task and variant, side by side (both replay CUDA graphs), all writing into
  # <task>/era or <task>/sac; `era train report` then joins each pair.
  local pids=() names=() t v flags
  for t in $tasks; do
    for v in era sac; do
      flags=("${graph[@]}")
      [ "$v" = sac ] && flags+=(--baseline-only)
      stamp "$t $v: ${steps} steps, 3 seeds" | tee -a "$out/train.log"
      within $(($(left) - 30)) "$NODE" "$HERE/dist/lib/cli/era.js" train sac --task "$t" --steps "$steps" --seeds 3 \
        "${train_size[@]}" "${flags[@]}" --checkpoint-every 1000000 --no-save-replay --out "$work/$t" >"$work/$t-$v.log" 2>&1 &
      pids+=($!)
      names+=("$t-$v")
    done
  done
  local i r
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    r=$?
    note_rc "$r"
    { stamp "${names[$i]} exit $(said "$r")"; cat "$work/${names[$i]}.log"; } >>"$out/train.log"
    stages="${stages:+$stages; }${names[$i]} exit $(said "$r")"
  done
  for t in $tasks; do stage "$out/train.log" within 60 "$NODE" "$HERE/dist/lib/cli/era.js" train report "$work/$t"; done
  finalize
  stamp "done (status $status)" | tee -a "$out/train.log"
  cat "$out/summary.md"
}

case "$mode" in
  check) run_check ;;
  table) run_table ;;
  *) echo "check.sh: the mode is check or table, not $mode" >&2; exit 2 ;;
esac
exit "$status"
