// Fibers for the CUDA simulator (see fiber.h). x86-64 System V only: the context switch saves
// the callee-saved registers on the fiber's own stack. The SSE/x87 control words are left alone:
// kernels never change them, and reloading them on every switch cost a third of the run time.
#include "sim/fiber.h"

#include "sim/cudart_sim.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#if !defined(__x86_64__)
#error "the CUDA simulator's fibers are written for x86-64"
#endif

// The CUDA built-in variables. cuda_sim.h declares them (instead of device_launch_parameters.h,
// whose declarations are const); the scheduler sets them before resuming each fiber.
extern "C" {
uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;
int warpSize = 32;
}

extern "C" void era_sim_switch(void** save_sp, void* next_sp);
asm(R"(
  .text
  .globl era_sim_switch
  .hidden era_sim_switch
  .type era_sim_switch,@function
era_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size era_sim_switch, .-era_sim_switch
)");

namespace era_sim {
namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr int kMaxThreads = 1024;

enum class State : uint8_t { Ready, AtBlockBarrier, AtWarpBarrier, Done };

// A thread's asynchronous work of one kind (see async_issue in fiber.h).
struct AsyncQueue {
  std::vector<AsyncOp> open;                // issued since the last commit
  std::deque<std::vector<AsyncOp>> groups;  // committed, oldest first
};

struct Fiber {
  void* sp = nullptr;
  State state = State::Ready;
  bool started = false;
  unsigned warp_mask = 0;  // the mask of the warp barrier it waits at
  uint3 tid{};
  AsyncQueue async[2];  // by AsyncKind
};

// One stack per thread slot of a block, reused by every block and launch.
struct StackPool {
  std::vector<unsigned char*> stacks;
  unsigned char* top(int i) {
    while (static_cast<int>(stacks.size()) <= i) {
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      mprotect(p, page, PROT_NONE);  // a guard page: an overflow faults instead of corrupting
      stacks.push_back(static_cast<unsigned char*>(p));
    }
    // Stacks kStackBytes apart would put every fiber's hot frames in the same cache sets;
    // shifting each top by a different multiple of 64 bytes (within 4 KiB) spreads them out.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return stacks[i] + page + kStackBytes - static_cast<size_t>((i * 7) % 64) * 64;
  }
};

struct BlockRun {
  const std::function<void()>* body = nullptr;
  std::vector<Fiber> fibers;
  int current = -1;
  void* scheduler_sp = nullptr;
  int live = 0;
  int at_block_barrier = 0;
  int count_acc = 0;     // __syncthreads_count's running total for the barrier being filled
  int count_result = 0;  // ... and the total of the barrier last released
  std::vector<unsigned> live_lanes;     // per warp
  std::vector<unsigned> waiting_lanes;  // per warp, lanes at a warp barrier
  std::vector<unsigned char> slots;     // per warp, 32 exchange slots
  std::vector<unsigned char> shared;    // dynamic shared memory (+ alignment slack)
  bool faulted = false;                 // a thread made a misaligned access (misaligned_access)
  const char* name = nullptr;           // the kernel running
  void* shared_aligned = nullptr;
};

// Threads run per kernel, summed over its template instantiations. With
// ERA_SIM_LAUNCH_LOG=<file> they are appended there as "name count" lines at exit, for
// scripts/sim-kernel-coverage.mjs. Counters are trivially destructible statics, so they are
// still readable when this destructor runs.
struct LaunchLog {
  std::vector<KernelCounter*> counters;
  ~LaunchLog() {
    const char* file = std::getenv("ERA_SIM_LAUNCH_LOG");
    if (!file || !*file) return;
    std::map<std::string, long long> totals;
    for (const KernelCounter* c : counters) totals[c->name] += c->threads;
    if (FILE* f = std::fopen(file, "a")) {
      for (const auto& [name, n] : totals) std::fprintf(f, "%s %lld\n", name.c_str(), n);
      std::fclose(f);
    }
  }
};

LaunchLog g_launch_log;
StackPool g_stacks;
BlockRun g_run;
std::mutex g_launch_mutex;

// The order in which a block's ready fibers are resumed. Index order by default; with
// ERA_SIM_ORDER=reverse, or shuffle (a fresh permutation per block, seeded by ERA_SIM_SEED),
// threads that touch the same memory without a barrier between them see each other's writes in
// another order, so a kernel whose results change under it has a race the barriers do not cover.
std::vector<int> g_order;  // empty: index order

void schedule_order(int n) {
  static const std::string mode = [] {
    const char* m = std::getenv("ERA_SIM_ORDER");
    return std::string(m ? m : "");
  }();
  static uint64_t state = [] {
    const char* s = std::getenv("ERA_SIM_SEED");
    return s ? std::strtoull(s, nullptr, 10) : 1;
  }();
  if (mode.empty() || mode == "index") {
    g_order.clear();
    return;
  }
  g_order.resize(n);
  for (int i = 0; i < n; ++i) g_order[i] = mode == "reverse" ? n - 1 - i : i;
  if (mode == "shuffle") {
    for (int i = n - 1; i > 0; --i) {  // Fisher-Yates on a splitmix64 stream
      state += 0x9e3779b97f4a7c15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::swap(g_order[i], g_order[static_cast<int>(z % static_cast<uint64_t>(i + 1))]);
    }
  }
}

Fiber& current_fiber() { return g_run.fibers[g_run.current]; }

void yield_to_scheduler() { era_sim_switch(&current_fiber().sp, g_run.scheduler_sp); }

void release_block_barrier() {
  for (Fiber& f : g_run.fibers)
    if (f.state == State::AtBlockBarrier) f.state = State::Ready;
  g_run.at_block_barrier = 0;
  g_run.count_result = g_run.count_acc;  // every waiter reads it on resuming, before the next release
  g_run.count_acc = 0;
}

// Releases the lanes of warp `w` whose barrier is complete (all live lanes of its mask waiting).
void release_complete_warp_barriers(int w) {
  unsigned waiting = g_run.waiting_lanes[w];
  while (waiting) {
    const int lane = __builtin_ctz(waiting);
    const unsigned need = g_run.fibers[w * 32 + lane].warp_mask & g_run.live_lanes[w];
    if ((g_run.waiting_lanes[w] & need) == need) {
      for (unsigned m = need; m; m &= m - 1) g_run.fibers[w * 32 + __builtin_ctz(m)].state = State::Ready;
      g_run.waiting_lanes[w] &= ~need;
    }
    waiting &= waiting - 1;
    waiting &= g_run.waiting_lanes[w];
  }
}

[[noreturn]] void fiber_exit() {
  Fiber& f = current_fiber();
  const int w = g_run.current / 32;
  f.state = State::Done;
  --g_run.live;
  g_run.live_lanes[w] &= ~(1u << (g_run.current % 32));
  if (g_run.at_block_barrier > 0 && g_run.at_block_barrier == g_run.live) release_block_barrier();
  release_complete_warp_barriers(w);
  yield_to_scheduler();
  __builtin_unreachable();  // a finished fiber is never resumed
}

void fiber_entry() {
  (*g_run.body)();
  fiber_exit();
}

// Lays out a fresh stack so that era_sim_switch "returns" into fiber_entry with the alignment
// of a normal call (rsp = 8 mod 16 at entry).
void* initial_stack(unsigned char* top) {
  auto* sp = reinterpret_cast<uint64_t*>(top) - 8;  // 64 bytes: 6 registers, 2 return addresses
  std::memset(sp, 0, 6 * sizeof(uint64_t));
  sp[6] = reinterpret_cast<uint64_t>(&fiber_entry);
  sp[7] = 0;  // fiber_entry never returns
  return sp;
}

bool run_block(dim3 block, const char* name) {
  const int n = static_cast<int>(block.x * block.y * block.z);
  const int warps = (n + 31) / 32;
  g_run.fibers.assign(n, Fiber{});
  schedule_order(n);
  for (int i = 0; i < n; ++i) {
    Fiber& f = g_run.fibers[i];
    f.tid.x = i % block.x;
    f.tid.y = (i / block.x) % block.y;
    f.tid.z = i / (block.x * block.y);
  }
  g_run.live = n;
  g_run.at_block_barrier = 0;
  g_run.count_acc = 0;
  g_run.live_lanes.assign(warps, 0xffffffffu);
  if (n % 32) g_run.live_lanes[warps - 1] = (1u << (n % 32)) - 1;
  g_run.waiting_lanes.assign(warps, 0);
  if (g_run.slots.size() < static_cast<size_t>(warps) * 32 * kSlotBytes)
    g_run.slots.resize(static_cast<size_t>(warps) * 32 * kSlotBytes);
  // Shared memory starts undefined on a GPU; all-ones bytes read back as NaN floats.
  if (!g_run.shared.empty()) std::memset(g_run.shared.data(), 0xff, g_run.shared.size());

  while (g_run.live > 0) {
    bool ran = false;
    for (int k = 0; k < n; ++k) {
      const int i = g_order.empty() ? k : g_order[k];
      Fiber& f = g_run.fibers[i];
      if (f.state != State::Ready) continue;
      g_run.current = i;
      threadIdx = f.tid;
      if (!f.started) {
        unsigned char* top = g_stacks.top(i);
        if (!top) {
          std::fprintf(stderr, "era-sim: cannot map a fiber stack for %s\n", name);
          return false;
        }
        f.started = true;
        f.sp = initial_stack(top);
      }
      era_sim_switch(&g_run.scheduler_sp, f.sp);
      ran = true;
    }
    if (!ran) {
      int at_block = 0, at_warp = 0, done = 0;
      for (const Fiber& f : g_run.fibers) {
        at_block += f.state == State::AtBlockBarrier;
        at_warp += f.state == State::AtWarpBarrier;
        done += f.state == State::Done;
      }
      std::fprintf(stderr,
                   "era-sim: %s deadlocked in block (%u,%u,%u): %d threads at __syncthreads, %d at a "
                   "warp collective, %d returned, of %d\n",
                   name, blockIdx.x, blockIdx.y, blockIdx.z, at_block, at_warp, done, n);
      return false;  // the abandoned fibers' stacks are simply reused by the next launch
    }
  }
  return true;
}

}  // namespace

bool launch_fits(dim3 grid, dim3 block, size_t dynamic_smem, const char* name) {
  const char* why = nullptr;
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z) why = "an empty grid or block";
  else if (static_cast<uint64_t>(block.x) * block.y * block.z > kMaxThreads) why = "more than 1024 threads per block";
  else if (block.z > 64) why = "block.z over 64";
  else if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) why = "a grid over the device's limits";
  else if (dynamic_smem > 227 * 1024) why = "more than 227 KiB of dynamic shared memory";
  if (why) std::fprintf(stderr, "era-sim: %s launched with %s\n", name, why);
  return why == nullptr;
}

bool run_grid(dim3 grid, dim3 block, size_t dynamic_smem, const char* name,
              const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  // ERA_SIM_TRACE=1: one stderr line per grid run (graph replays included), to count and name
  // the kernels a piece of work launches.
  static const bool trace = [] {
    const char* t = std::getenv("ERA_SIM_TRACE");
    return t && *t && std::strcmp(t, "0") != 0;
  }();
  if (trace)
    std::fprintf(stderr, "era-sim: run %s grid (%u,%u,%u) block (%u,%u,%u) smem %zu\n", name, grid.x, grid.y,
                 grid.z, block.x, block.y, block.z, dynamic_smem);
  if (static_cast<int>(block.x * block.y * block.z) > kMaxThreads) return false;
  g_run.body = &body;
  g_run.shared.assign(dynamic_smem ? dynamic_smem + 128 : 0, 0);
  g_run.shared_aligned = dynamic_smem ? reinterpret_cast<void*>(
                                            (reinterpret_cast<uintptr_t>(g_run.shared.data()) + 127) &
                                            ~uintptr_t(127))
                                      : nullptr;
  gridDim = grid;
  blockDim = block;
  g_run.faulted = false;
  g_run.name = name;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = uint3{x, y, z};
        if (!run_block(block, name)) return false;
      }
  return !g_run.faulted;
}

void misaligned_access(const void* p, size_t bytes, size_t align, const char* how) {
  // The first one per launch is enough to find the bug.
  if (!g_run.faulted)
    std::fprintf(stderr, "era-sim: %s: misaligned %zu-byte %s at %p (needs %zu-byte alignment), thread %d of block (%u,%u,%u)\n",
                 g_run.name ? g_run.name : "?", bytes, how, p, align, g_run.current, blockIdx.x, blockIdx.y, blockIdx.z);
  g_run.faulted = true;
  record_error(cudaErrorMisalignedAddress);
}

void block_barrier() {
  Fiber& f = current_fiber();
  f.state = State::AtBlockBarrier;
  if (++g_run.at_block_barrier == g_run.live) release_block_barrier();
  else yield_to_scheduler();
}

int block_count(int pred) {
  g_run.count_acc += pred != 0;
  block_barrier();
  return g_run.count_result;
}

void warp_barrier(unsigned mask) {
  Fiber& f = current_fiber();
  const int w = g_run.current / 32, lane = g_run.current % 32;
  f.state = State::AtWarpBarrier;
  f.warp_mask = mask | (1u << lane);
  g_run.waiting_lanes[w] |= 1u << lane;
  // Only the barrier this lane joins can have just completed (exits re-check them all).
  const unsigned need = f.warp_mask & g_run.live_lanes[w];
  if ((g_run.waiting_lanes[w] & need) == need) {
    for (unsigned m = need; m; m &= m - 1) g_run.fibers[w * 32 + __builtin_ctz(m)].state = State::Ready;
    g_run.waiting_lanes[w] &= ~need;
  } else {
    yield_to_scheduler();
  }
}

void async_issue(AsyncKind kind, const AsyncOp& op) {
  current_fiber().async[static_cast<int>(kind)].open.push_back(op);
}

void async_commit(AsyncKind kind) {
  AsyncQueue& q = current_fiber().async[static_cast<int>(kind)];
  q.groups.push_back(std::move(q.open));
  q.open.clear();
}

void async_wait(AsyncKind kind, int n) {
  AsyncQueue& q = current_fiber().async[static_cast<int>(kind)];
  while (static_cast<int>(q.groups.size()) > n) {
    const std::vector<AsyncOp> group = std::move(q.groups.front());
    q.groups.pop_front();
    for (const AsyncOp& op : group) op.run(op);
  }
}

KernelCounter::KernelCounter(const char* kernel_name) : name(kernel_name) {
  g_launch_log.counters.push_back(this);
}

int lane_id() { return g_run.current % 32; }

unsigned char* warp_slots() {
  return g_run.slots.data() + static_cast<size_t>(g_run.current / 32) * 32 * kSlotBytes;
}

void* dynamic_shared() { return g_run.shared_aligned; }

unsigned shared_address(const void* p) {
  const auto* base = static_cast<const unsigned char*>(g_run.shared_aligned);
  const auto* q = static_cast<const unsigned char*>(p);
  if (!base || q < base || q >= base + g_run.shared.size()) {
    std::fprintf(stderr, "era-sim: shared_address of %p, outside the launch's dynamic shared memory\n", p);
    misaligned_access(p, 1, 1, "shared address outside dynamic shared memory");
    return 0;
  }
  return static_cast<unsigned>(q - base);
}

}  // namespace era_sim
