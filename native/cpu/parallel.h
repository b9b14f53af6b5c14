// The CPU backend's worker threads: one process-wide pool that the heavy CPU kernels (the GEMM)
// split their work over. Results never depend on the thread count: callers hand out tasks that
// each own a disjoint part of the output and compute it in a fixed order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace era::cpu {

// Threads a parallel_for may use, the calling thread included (>= 1). The default is the number
// of CPUs this process may run on (its affinity mask), at most kDefaultThreadCap.
int num_threads();
constexpr int kDefaultThreadCap = 32;
constexpr int kMaxThreads = 1024;

// Sets num_threads() (1 <= n <= kMaxThreads; the caller validates). Extra workers start lazily
// and idle ones are stopped when n shrinks.
void set_num_threads(int n);

// Elements per chunk of an element-wise loop below which a worker thread costs more than it saves.
constexpr int64_t kElementwiseGrain = 1 << 14;

// A borrowed reference to a callable taking a task index: unlike std::function it never
// allocates (a training step calls parallel_for dozens of times). The callable must outlive it,
// which holds for the duration of a parallel_for call.
class TaskFn {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskFn>>>
  TaskFn(const F& f) : object_(&f), call_([](const void* o, int64_t t) { (*static_cast<const F*>(o))(t); }) {}
  void operator()(int64_t task) const { call_(object_, task); }

 private:
  const void* object_;
  void (*call_)(const void*, int64_t);
};

// Runs fn(task) for every task in [0, tasks) on up to num_threads() threads, the caller being one
// of them, and returns when all have finished. The first exception a task throws is rethrown here
// (the other tasks still run). A call made while the pool is busy (from a task, or from another
// thread at the same time) runs its tasks serially on the calling thread instead of waiting.
void parallel_for(int64_t tasks, TaskFn fn);

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
  const auto chunk = [&](int64_t c) { fn(c * size, std::min(n, (c + 1) * size)); };
  parallel_for((n + size - 1) / size, chunk);
}

}  // namespace era::cpu
