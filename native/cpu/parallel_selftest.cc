// Checks of the CPU worker pool (parallel.cc) that JS cannot make: exceptions from tasks, nested
// calls, two OS threads calling at once, resizing between calls. Built with the addon
// (build/Release/era_parallel_selftest) and run by test/cpu-threads.test.ts. For a data-race check:
//   g++ -std=c++17 -O1 -g -fsanitize=thread -pthread native/cpu/parallel_selftest.cc native/cpu/parallel.cc
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "parallel.h"
#include "selftest.h"

using era::selftest::check;

int main() {
  using namespace era::cpu;
  std::vector<long> out(1000);
  for (int round = 0; round < 200; ++round) {
    if (round % 7 == 0) set_num_threads(1 + round % 6);
    const std::string at = " (round " + std::to_string(round) + ", " + std::to_string(num_threads()) + " threads)";

    std::fill(out.begin(), out.end(), 0);
    parallel_for(1000, [&](int64_t t) { out[t] += t * 3; });
    bool all = true;
    for (long i = 0; i < 1000; ++i) all = all && out[i] == i * 3;
    check(all, "every task runs exactly once" + at);

    std::atomic<int> ran{0};
    bool threw = false;
    try {
      parallel_for(50, [&](int64_t t) {
        ++ran;
        if (t == 17 || t == 31) throw std::runtime_error("task " + std::to_string(t));
      });
    } catch (const std::runtime_error&) {
      threw = true;
    }
    check(threw && ran == 50, "a task's exception reaches the caller after every task ran" + at);

    std::atomic<long> sum{0};
    parallel_for(8, [&](int64_t) { parallel_for(4, [&](int64_t u) { sum += u; }); });
    check(sum == 8 * 6, "a nested parallel_for runs its tasks (serially)" + at);

    long chunked = 0;
    std::vector<long> seen(12345, 0);
    parallel_chunks(12345, 100, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) seen[i]++;
    });
    for (long v : seen) chunked += v != 1;
    check(chunked == 0, "parallel_chunks covers [0, n) once" + at);
  }

  // Calls that leave workers out (fewer tasks than threads) between calls that use them all: a
  // worker that sat a call out must join the next one once, counted once, and every task must
  // have finished when parallel_for returns (a miscounted worker returns early or hangs).
  for (int threads : {3, 5}) {
    set_num_threads(threads);
    bool complete = true;
    for (int round = 0; round < 2000 && complete; ++round) {
      const int64_t tasks = round % 2 ? 40 : 2;
      std::atomic<int64_t> done{0};
      parallel_for(tasks, [&](int64_t) {
        for (volatile int spin = 0; spin < 200; spin = spin + 1) {
        }
        done.fetch_add(1);
      });
      complete = done.load() == tasks;
    }
    check(complete, "alternating small and large calls finish every task before returning (" + std::to_string(threads) + " threads)");
  }

  // Two OS threads at once: one holds the pool, the other runs its tasks serially; neither waits
  // forever and no task is lost.
  set_num_threads(4);
  std::vector<long> a(5000), b(5000);
  std::thread t1([&] {
    for (int r = 0; r < 100; ++r) parallel_for(5000, [&](int64_t i) { a[i] += 1; });
  });
  std::thread t2([&] {
    for (int r = 0; r < 100; ++r) parallel_for(5000, [&](int64_t i) { b[i] += 2; });
  });
  t1.join();
  t2.join();
  bool both = true;
  for (int i = 0; i < 5000; ++i) both = both && a[i] == 100 && b[i] == 200;
  check(both, "two threads calling parallel_for at once");

  return era::selftest::summary();
}
