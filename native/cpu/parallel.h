// The CPU backend's worker threads: one process-wide pool that the heavy CPU kernels (the GEMM)
// split their work over. Results never depend on the thread count: callers hand out tasks that
// each own a disjoint part of the output and compute it in a fixed order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>

namespace era::cpu {

// Threads a parallel_for may use, the calling thread included (>= 1). The default is the number
// of CPUs this process may run on (its affinity mask), at most kDefaultThreadCap.
int num_threads();
constexpr int kDefaultThreadCap = 32;
constexpr int kMaxThreads = 1024;

// Sets num_threads() (1 <= n <= kMaxThreads; the caller validates). Extra workers start lazily
// and idle ones are stopped when n shrinks.
void set_num_threads(int n);

// Runs fn(task) for every task in [0, tasks) on up to num_threads() threads, the caller being one
// of them, and returns when all have finished. The first exception a task throws is rethrown here
// (the other tasks still run). A call made while the pool is busy (from a task, or from another
// thread at the same time) runs its tasks serially on the calling thread instead of waiting.
void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn);

// Runs fn(begin, end) over consecutive chunks of [0, n), each at least `grain` long (the last may
// be shorter), about four per thread; all on the calling thread when n < 2 * grain. For loops
// whose iterations are independent: element-wise kernels, rows of a normalisation.
template <typename F>
void parallel_chunks(int64_t n, int64_t grain, const F& fn) {
  const int64_t threads = num_threads();
  if (threads == 1 || n < 2 * grain) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(4 * threads, n / grain);
  const int64_t size = (n + chunks - 1) / chunks;
  parallel_for((n + size - 1) / size, [&](int64_t c) { fn(c * size, std::min(n, (c + 1) * size)); });
}

}  // namespace era::cpu
