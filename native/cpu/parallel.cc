// A small fork-join pool: a parallel_for publishes a task range and a generation number, everyone
// (the caller too) claims task indices from an atomic counter, and the caller waits until the
// workers it woke have finished. Workers and the caller spin briefly before sleeping on a condition
// variable: a training step makes hundreds of short parallel calls back to back, and waking a
// sleeping thread costs a system call and tens of microseconds each time.
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace era::cpu {
namespace {

// How long a thread polls for the next call (a worker) or for the workers to finish (the caller)
// before it sleeps: longer than the gap between two ops of a training step, short enough that an
// idle pool stops using the CPU at once.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls ready() for up to kSpin; whether it became true.
template <typename Ready>
bool spin_until(const Ready& ready) {
  if (ready()) return true;
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (ready()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

// CPUs this process may run on: the affinity mask, not the machine's CPU count (taskset,
// containers and job schedulers restrict it, and oversubscribing them makes a GEMM slower).
int affinity_cpus() {
  int n = 0;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(n, 1);
}

int default_threads() { return std::clamp(affinity_cpus(), 1, kDefaultThreadCap); }

class Pool {
 public:
  Pool() : wanted_(default_threads()) { spin_ = wanted_ <= affinity_cpus(); }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      keep_ = 0;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  int threads() const { return wanted_.load(); }

  void set_threads(int n) {
    acquire();  // no parallel_for in flight while workers come and go
    wanted_ = n;
    spin_ = n <= affinity_cpus();
    const size_t keep = static_cast<size_t>(n - 1);
    if (workers_.size() > keep) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        keep_.store(static_cast<int>(keep));
      }
      wake_.notify_all();
      for (size_t i = keep; i < workers_.size(); ++i) workers_[i].join();
      workers_.resize(keep);
      std::lock_guard<std::mutex> lock(mutex_);
      keep_.store(kMaxThreads);
    }
    busy_ = false;
  }

  void run(int64_t tasks, TaskFn fn) {
    if (tasks <= 0) return;
    bool expected = false;
    if (tasks == 1 || wanted_ == 1 || !busy_.compare_exchange_strong(expected, true)) {
      run_serially(tasks, fn);
      return;
    }
    start_workers();
    const int helpers = static_cast<int>(std::min<int64_t>(static_cast<int64_t>(workers_.size()), tasks - 1));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;  // fn lives on this frame until every worker has finished
      tasks_ = tasks;
      next_ = 0;
      error_ = nullptr;
      running_.store(helpers);
      // Last, with release: a worker that sees the new ticket sees everything above.
      ticket_.store(make_ticket(ticket_generation(ticket_.load()) + 1, helpers), std::memory_order_release);
    }
    wake_.notify_all();  // a system call only if some worker is asleep
    claim_tasks();
    std::exception_ptr error;
    {
      const auto finished = [&] { return running_.load(std::memory_order_acquire) == 0; };
      if (spin_) spin_until(finished);
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, finished);
      error = error_;
      fn_ = nullptr;
    }
    busy_ = false;
    if (error) std::rethrow_exception(error);
  }

 private:
  // Spins until no parallel_for holds the pool (only set_threads waits; callers run serially).
  void acquire() {
    bool expected = false;
    while (!busy_.compare_exchange_weak(expected, true)) {
      expected = false;
      std::this_thread::yield();
    }
  }

  static void run_serially(int64_t tasks, TaskFn fn) {
    std::exception_ptr error;
    for (int64_t t = 0; t < tasks; ++t) {
      try {
        fn(t);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

  // Workers start on the first parallel call after a (re)size; a thread that cannot be created
  // just leaves the pool smaller.
  void start_workers() {
    const size_t want = static_cast<size_t>(wanted_ - 1);
    while (workers_.size() < want) {
      try {
        // A new worker starts as if it had seen the last generation, so it only joins the next.
        workers_.emplace_back([this, index = static_cast<int>(workers_.size()), seen = ticket_generation(ticket_.load())] { work(index, seen); });
      } catch (...) {  // std::system_error, std::bad_alloc
        break;
      }
    }
  }

  void claim_tasks() {
    for (;;) {
      const int64_t t = next_.fetch_add(1);
      if (t >= tasks_) return;
      try {
        (*fn_)(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void work(int index, uint64_t seen) {
    // The generation and the helper count come from one load of one word: read as two atomics,
    // a worker could pair a new call's helper count with the old generation and join a call it
    // was not counted in.
    uint64_t ticket = 0;
    const auto ready = [&] {
      ticket = ticket_.load(std::memory_order_acquire);
      return index >= keep_.load() || (ticket_generation(ticket) != seen && index < ticket_helpers(ticket));
    };
    for (;;) {
      if (!spin_ || !spin_until(ready)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, ready);
      }
      if (index >= keep_.load()) return;
      seen = ticket_generation(ticket);
      claim_tasks();
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The caller may be asleep on done_: notify under the mutex, so that it cannot check
        // running_ and then miss this notification before it waits.
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::atomic<int> wanted_;
  // Spin before sleeping only while every thread can have a CPU: with more threads than CPUs
  // the spinning ones would take time from those with work.
  std::atomic<bool> spin_{true};
  std::atomic<bool> busy_{false};
  std::vector<std::thread> workers_;  // touched only by the thread holding busy_ (and ~Pool)

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // A call's ticket: its generation (a counter of calls) and how many workers join it (workers
  // 0..helpers-1), in one word. Written under mutex_ (ticket_ and keep_ only by the busy_
  // holder); atomic so that spinning threads can poll without the mutex.
  static constexpr int kHelperBits = 11;
  static_assert(kMaxThreads <= (1 << kHelperBits), "a ticket holds up to kMaxThreads - 1 helpers");
  static uint64_t make_ticket(uint64_t generation, int helpers) { return generation << kHelperBits | static_cast<uint64_t>(helpers); }
  static uint64_t ticket_generation(uint64_t ticket) { return ticket >> kHelperBits; }
  static int ticket_helpers(uint64_t ticket) { return static_cast<int>(ticket & ((1u << kHelperBits) - 1)); }
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> running_{0};   // of the current call's helpers, how many have not finished
  std::atomic<int> keep_{kMaxThreads};  // workers with an index >= keep_ exit
  const TaskFn* fn_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int n) { pool().set_threads(std::clamp(n, 1, kMaxThreads)); }

void parallel_for(int64_t tasks, TaskFn fn) { pool().run(tasks, fn); }

}  // namespace era::cpu
