// The simulator's thread model: every CUDA thread of a block is a fiber on the calling OS thread.
// Blocks run one after another; inside a block the fibers run until they reach a barrier
// (__syncthreads, a warp collective) or return, so barrier-separated phases interleave exactly as
// CUDA's rules allow and a missing or divergent barrier shows up as a reported deadlock.
#pragma once
#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace era_sim {

// Whether a launch fits the simulated device (an H100's limits): at most 1024 threads and 227 KiB
// of dynamic shared memory per block, grid.x < 2^31, grid.y and grid.z <= 65535, nothing empty.
// Prints why to stderr when not.
bool launch_fits(dim3 grid, dim3 block, size_t dynamic_smem, const char* name);

// Runs `body` once per thread of the grid. Returns false (and prints why to stderr) when the
// kernel deadlocked at a barrier; `name` identifies the kernel in that message.
bool run_grid(dim3 grid, dim3 block, size_t dynamic_smem, const char* name,
              const std::function<void()>& body);

// __syncthreads(): waits until every live thread of the block has arrived.
void block_barrier();
// __syncthreads_count(pred): a barrier that returns how many threads passed a non-zero `pred`.
int block_count(int pred);
// Waits until every live lane of the calling warp named in `mask` has arrived.
void warp_barrier(unsigned mask);
// The calling thread's lane (threadIdx flattened, mod 32) and its warp's 32 exchange slots of
// kSlotBytes each, used by shuffles and the tensor-core emulation.
constexpr int kSlotBytes = 64;
int lane_id();
unsigned char* warp_slots();
// Counts the threads a kernel ran (scripts/cuda-sim-source.mjs puts one, as a static, at the top of
// every __global__ function; see ERA_SIM_LAUNCH_LOG in fiber.cc).
struct KernelCounter {
  const char* name;
  long long threads = 0;
  explicit KernelCounter(const char* kernel_name);
  void hit() { ++threads; }
};

// The launch's dynamic shared memory (extern __shared__), 128-byte aligned.
void* dynamic_shared();
// The shared-window address of `p` in the launch's dynamic shared memory: its offset from the
// start, which stands for address 0 of the window (so it is aligned as a GPU's window start is).
unsigned shared_address(const void* p);

// Asynchronous work a thread has issued and not yet waited for: cp.async copies and wgmma
// products. The PTX rules let such work happen at any time between its issue and the wait_group
// that retires its commit group; the simulator does it at the last moment, inside that wait, so
// a kernel that reads a cp.async destination too early, or lets a stage be overwritten while a
// wgmma still reads it, computes the wrong result here as it may on a GPU.
enum class AsyncKind { CpAsync = 0, Wgmma = 1 };
struct AsyncOp {
  void (*run)(const AsyncOp&);  // done by the issuing thread, when its group is retired
  void* dst;
  const void* src;
  uint64_t a, b;
  int i, j;
};
// Adds `op` to the calling thread's open group of that kind.
void async_issue(AsyncKind kind, const AsyncOp& op);
// cp.async.commit_group / wgmma.commit_group: the open group becomes the newest pending group.
void async_commit(AsyncKind kind);
// cp.async.wait_group n / wgmma.wait_group n: does the oldest pending groups' work until at most
// `n` remain. Work still pending when a thread returns is dropped (nothing waited for it).
void async_wait(AsyncKind kind, int n);

// A kernel thread accessed `bytes` bytes at `p`, which is not aligned to `align`: on a GPU that is
// cudaErrorMisalignedAddress. Records that error, prints where, and fails the launch when its grid
// ends (the thread itself carries on).
void misaligned_access(const void* p, size_t bytes, size_t align, const char* how);

}  // namespace era_sim
