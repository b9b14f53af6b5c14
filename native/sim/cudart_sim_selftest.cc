// Standalone check of the simulator's CUDA runtime (cudart_sim.cc), no kernels involved. Build:
//   g++ -std=c++17 -Wall -Wextra -I/usr/local/cuda/include native/sim/cudart_sim.cc
//       native/sim/cudart_sim_selftest.cc -o /tmp/cs && /tmp/cs
// Prints each failed check and a PASS/FAIL line; exits nonzero on failure.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cudart_sim.h"

namespace {

int g_checks = 0;
int g_failed = 0;

void check(bool ok, const char* what, int line) {
  ++g_checks;
  if (!ok) {
    ++g_failed;
    std::printf("  FAIL line %d: %s\n", line, what);
  }
}

#define CHECK(cond) check((cond), #cond, __LINE__)

// A call must return `want`, and (for an error) leave exactly that as the last error, which this
// consumes so that the next check starts clean.
void expect(cudaError_t got, cudaError_t want, const char* what, int line) {
  bool ok = got == want;
  cudaError_t last = cudaGetLastError();
  if (want != cudaSuccess) ok = ok && last == want;
  else ok = ok && last == cudaSuccess;
  if (!ok) {
    std::printf("  FAIL line %d: %s returned %s (last error %s), wanted %s\n", line, what,
                cudaGetErrorName(got), cudaGetErrorName(last), cudaGetErrorName(want));
  }
  ++g_checks;
  if (!ok) ++g_failed;
}

#define EXPECT(call, want) expect((call), (want), #call, __LINE__)
#define OK(call) expect((call), cudaSuccess, #call, __LINE__)

constexpr size_t kCapacity = 1 << 20;  // set through ERA_SIM_DEVICE_MEMORY in main()

size_t used() {
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  return total_b - free_b;
}

void test_device() {
  std::printf("device queries\n");
  CHECK(era_sim::visible_devices(nullptr) == 1);
  CHECK(era_sim::visible_devices("0") == 1 && era_sim::visible_devices(" 0 ,1") == 1);
  CHECK(era_sim::visible_devices("") == 0 && era_sim::visible_devices("1") == 0);
  CHECK(era_sim::visible_devices("-1") == 0 && era_sim::visible_devices("00") == 0);
  CHECK(era_sim::visible_devices("GPU-0") == 0 && era_sim::visible_devices("1,0") == 0);
  int n = -1;
  setenv("CUDA_VISIBLE_DEVICES", "", 1);  // hides the device: the count is 0 and an error (also the last error)
  EXPECT(cudaGetDeviceCount(&n), cudaErrorNoDevice);
  CHECK(n == 0);
  unsetenv("CUDA_VISIBLE_DEVICES");  // the rest of this test sees the device
  OK(cudaGetDeviceCount(&n));
  CHECK(n == 1);
  OK(cudaSetDevice(0));
  EXPECT(cudaSetDevice(1), cudaErrorInvalidDevice);
  int dev = -1;
  OK(cudaGetDevice(&dev));
  CHECK(dev == 0);
  cudaDeviceProp prop;
  OK(cudaGetDeviceProperties(&prop, 0));
  CHECK(std::string(prop.name) == "era-sim: CUDA kernels emulated on the CPU");
  CHECK(prop.major == 9 && prop.minor == 0);
  CHECK(prop.multiProcessorCount == 4);
  CHECK(prop.totalGlobalMem == kCapacity);
  CHECK(prop.sharedMemPerBlock == 48 * 1024 && prop.sharedMemPerBlockOptin == 227 * 1024);
  CHECK(prop.maxThreadsPerBlock == 1024 && prop.warpSize == 32);
  CHECK(prop.maxGridSize[0] == 2147483647 && prop.maxGridSize[1] == 65535 &&
        prop.maxGridSize[2] == 65535);
  CHECK(prop.maxThreadsDim[0] == 1024 && prop.maxThreadsDim[1] == 1024 &&
        prop.maxThreadsDim[2] == 64);
  CHECK(prop.l2CacheSize > 0);
  EXPECT(cudaGetDeviceProperties(&prop, 3), cudaErrorInvalidDevice);
  int v = 0;
  OK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
  CHECK(v == 4);
  OK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  CHECK(v == 227 * 1024);
  OK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0));
  CHECK(v == 9);
  OK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMinor, 0));
  CHECK(v == 0);
  EXPECT(cudaDeviceGetAttribute(&v, cudaDevAttrGpuOverlap, 0), cudaErrorInvalidValue);
  EXPECT(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 1), cudaErrorInvalidDevice);
  int drv = 0, rt = 0;
  OK(cudaDriverGetVersion(&drv));
  OK(cudaRuntimeGetVersion(&rt));
  CHECK(drv == 13000 && rt == 13000);
}

void test_errors() {
  std::printf("errors\n");
  CHECK(std::string(cudaGetErrorName(cudaErrorMemoryAllocation)) == "cudaErrorMemoryAllocation");
  CHECK(std::string(cudaGetErrorString(cudaErrorMemoryAllocation)) == "out of memory");
  CHECK(std::string(cudaGetErrorName(cudaSuccess)) == "cudaSuccess");
  CHECK(std::string(cudaGetErrorString(cudaSuccess)) == "no error");
  CHECK(std::string(cudaGetErrorString(cudaErrorStreamCaptureInvalidated)) ==
        "operation failed due to a previous error during capture");
  CHECK(std::string(cudaGetErrorName(static_cast<cudaError_t>(12345))) == "unrecognized error code");
  // The first error is kept until read; peeking does not clear it.
  CHECK(cudaGetLastError() == cudaSuccess);
  era_sim::record_error(cudaErrorLaunchFailure);
  era_sim::record_error(cudaErrorInvalidConfiguration);
  era_sim::record_error(cudaSuccess);
  CHECK(cudaPeekAtLastError() == cudaErrorLaunchFailure);
  CHECK(cudaPeekAtLastError() == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaPeekAtLastError() == cudaSuccess);
  // A failing runtime call sets it as well.
  int v = 0;
  CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 7) == cudaErrorInvalidDevice);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
}

void test_memory() {
  std::printf("memory\n");
  CHECK(used() == 0);
  void* a = nullptr;
  void* b = nullptr;
  OK(cudaMalloc(&a, 1000));
  CHECK(a != nullptr && reinterpret_cast<uintptr_t>(a) % 256 == 0);
  CHECK(used() == 1024);  // rounded to the 256-byte granularity
  OK(cudaMalloc(&b, 256));
  CHECK(used() == 1280);
  void* z = reinterpret_cast<void*>(1);
  OK(cudaMalloc(&z, 0));
  CHECK(z == nullptr && used() == 1280);

  // Out of memory: the request does not fit next to what is in use.
  void* big = reinterpret_cast<void*>(1);
  EXPECT(cudaMalloc(&big, kCapacity), cudaErrorMemoryAllocation);
  CHECK(big == nullptr && used() == 1280);
  EXPECT(cudaMalloc(&big, SIZE_MAX), cudaErrorMemoryAllocation);
  OK(cudaMalloc(&big, kCapacity - 1280));  // exactly fills the device
  size_t free_b = 1, total_b = 0;
  OK(cudaMemGetInfo(&free_b, &total_b));
  CHECK(free_b == 0 && total_b == kCapacity);
  void* one = nullptr;
  EXPECT(cudaMalloc(&one, 1), cudaErrorMemoryAllocation);
  OK(cudaFree(big));

  // Freeing: null is fine; unknown, interior and already-freed pointers are not.
  OK(cudaFree(nullptr));
  int host_var = 0;
  EXPECT(cudaFree(&host_var), cudaErrorInvalidValue);
  EXPECT(cudaFree(static_cast<char*>(a) + 16), cudaErrorInvalidValue);
  OK(cudaFree(b));
  EXPECT(cudaFree(b), cudaErrorInvalidValue);
  CHECK(used() == 1024);

  // Copies and memsets, synchronous and on a stream.
  std::vector<unsigned char> src(1000), dst(1000, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7);
  OK(cudaMemcpy(a, src.data(), 1000, cudaMemcpyHostToDevice));
  OK(cudaMemcpy(dst.data(), a, 1000, cudaMemcpyDeviceToHost));
  CHECK(dst == src);
  void* c = nullptr;
  OK(cudaMalloc(&c, 1000));
  OK(cudaMemcpy(c, a, 1000, cudaMemcpyDeviceToDevice));
  OK(cudaMemsetAsync(a, 0xab, 500, nullptr));
  OK(cudaMemcpyAsync(dst.data(), a, 1000, cudaMemcpyDefault, nullptr));
  CHECK(dst[0] == 0xab && dst[499] == 0xab && dst[500] == src[500]);
  OK(cudaMemcpy(dst.data(), c, 1000, cudaMemcpyDefault));
  CHECK(dst == src);
  OK(cudaMemcpy(dst.data(), a, 0, cudaMemcpyDeviceToHost));  // zero bytes: nothing to check
  // The device side of a copy must lie inside one allocation.
  EXPECT(cudaMemcpy(dst.data(), a, 1001, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT(cudaMemcpy(dst.data(), src.data(), 10, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT(cudaMemsetAsync(static_cast<char*>(a) + 900, 0, 101, nullptr), cudaErrorInvalidValue);
  EXPECT(cudaMemsetAsync(dst.data(), 0, 10, nullptr), cudaErrorInvalidValue);
  EXPECT(cudaMemcpy(dst.data(), a, 10, static_cast<cudaMemcpyKind>(9)),
         cudaErrorInvalidMemcpyDirection);
  EXPECT(cudaMemcpy(nullptr, a, 10, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  OK(cudaFree(a));
  OK(cudaFree(c));
  CHECK(used() == 0);

  // Pinned memory: page aligned, not device memory, freed only by cudaFreeHost.
  void* h = nullptr;
  OK(cudaHostAlloc(&h, 5000, cudaHostAllocPortable));
  CHECK(h != nullptr && reinterpret_cast<uintptr_t>(h) % 4096 == 0 && used() == 0);
  std::memset(h, 1, 5000);
  EXPECT(cudaFree(h), cudaErrorInvalidValue);
  EXPECT(cudaHostAlloc(&h, 16, 0x80), cudaErrorInvalidValue);
  EXPECT(cudaFreeHost(&host_var), cudaErrorInvalidValue);
  // finish_read() frees pinned blocks on a worker thread while the main thread allocates.
  std::vector<void*> blocks(64, nullptr);
  for (auto& p : blocks) OK(cudaHostAlloc(&p, 4096, cudaHostAllocPortable));
  std::thread worker([&] {
    for (auto& p : blocks) cudaFreeHost(p);
  });
  for (int i = 0; i < 64; ++i) {
    void* d = nullptr;
    cudaMalloc(&d, 512);
    cudaFree(d);
  }
  worker.join();
  CHECK(cudaGetLastError() == cudaSuccess && used() == 0);
  OK(cudaFreeHost(h));
  OK(cudaFreeHost(nullptr));
}

void test_capture() {
  std::printf("capture and replay\n");
  cudaStream_t s = nullptr;
  EXPECT(cudaStreamCreateWithFlags(&s, 0x10), cudaErrorInvalidValue);
  OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  OK(cudaStreamSynchronize(s));

  int* buf = nullptr;
  int* out = nullptr;
  OK(cudaMalloc(reinterpret_cast<void**>(&buf), 4 * sizeof(int)));
  OK(cudaMalloc(reinterpret_cast<void**>(&out), 4 * sizeof(int)));
  std::vector<int> log;

  // Outside a capture, work runs at once.
  era_sim::submit(s, [&] { log.push_back(0); });
  CHECK(log.size() == 1 && log[0] == 0);
  log.clear();

  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaErrorIllegalState);
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  OK(cudaStreamIsCapturing(s, &st));
  CHECK(st == cudaStreamCaptureStatusActive);
  era_sim::submit(s, [&] { log.push_back(1); });
  OK(cudaMemsetAsync(buf, 0, 4 * sizeof(int), s));
  era_sim::submit(s, [&] {
    log.push_back(2);
    for (int i = 0; i < 4; ++i) buf[i] += 10 * (i + 1);
  });
  OK(cudaMemcpyAsync(out, buf, 4 * sizeof(int), cudaMemcpyDeviceToDevice, s));
  era_sim::submit(s, [&] { log.push_back(3); });
  // Relaxed mode permits allocation while recording (the caching allocator relies on it).
  void* during = nullptr;
  OK(cudaMalloc(&during, 64));
  unsigned long long id = 0;
  size_t deps = 0;
  const cudaGraphNode_t* dep_list = nullptr;
  OK(cudaStreamGetCaptureInfo(s, &st, &id, nullptr, &dep_list, nullptr, &deps));
  CHECK(st == cudaStreamCaptureStatusActive && id != 0 && deps == 1 && dep_list != nullptr);
  CHECK(log.empty());  // recorded, not run
  CHECK(cudaGetLastError() == cudaSuccess);

  cudaGraph_t graph = nullptr;
  OK(cudaStreamEndCapture(s, &graph));
  CHECK(graph != nullptr);
  OK(cudaStreamIsCapturing(s, &st));
  CHECK(st == cudaStreamCaptureStatusNone);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorIllegalState);
  size_t n = 0;
  OK(cudaGraphGetNodes(graph, nullptr, &n));
  CHECK(n == 5);
  std::vector<cudaGraphNode_t> handles(7, reinterpret_cast<cudaGraphNode_t>(1));
  size_t room = handles.size();
  OK(cudaGraphGetNodes(graph, handles.data(), &room));
  CHECK(room == 5 && handles[4] != nullptr && handles[5] == nullptr && handles[6] == nullptr);

  cudaGraphExec_t exec = nullptr;
  OK(cudaGraphInstantiate(&exec, graph, 0));
  OK(cudaGraphDestroy(graph));  // the exec is a snapshot
  for (int i = 0; i < 4; ++i) buf[i] = 1000;  // the replayed memset must reset this
  OK(cudaGraphLaunch(exec, s));
  OK(cudaGraphLaunch(exec, s));
  CHECK((log == std::vector<int>{1, 2, 3, 1, 2, 3}));
  CHECK(out[0] == 10 && out[1] == 20 && out[2] == 30 && out[3] == 40);

  // A graph launched into another capture is recorded as one node that replays it.
  cudaStream_t s2 = nullptr;
  OK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  OK(cudaStreamBeginCapture(s2, cudaStreamCaptureModeGlobal));
  era_sim::submit(s2, [&] { log.push_back(9); });
  OK(cudaGraphLaunch(exec, s2));
  cudaGraph_t outer = nullptr;
  OK(cudaStreamEndCapture(s2, &outer));
  OK(cudaGraphGetNodes(outer, nullptr, &n));
  CHECK(n == 2);
  cudaGraphExec_t outer_exec = nullptr;
  OK(cudaGraphInstantiate(&outer_exec, outer, 0));
  OK(cudaGraphExecDestroy(exec));  // the recorded replay keeps its nodes alive
  log.clear();
  OK(cudaGraphLaunch(outer_exec, s));
  CHECK((log == std::vector<int>{9, 1, 2, 3}));
  OK(cudaGraphExecDestroy(outer_exec));
  OK(cudaGraphDestroy(outer));
  EXPECT(cudaGraphLaunch(nullptr, s), cudaErrorInvalidValue);
  EXPECT(cudaGraphInstantiate(&exec, nullptr, 0), cudaErrorInvalidValue);

  // An empty capture is a valid, empty graph.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  OK(cudaStreamEndCapture(s, &graph));
  OK(cudaGraphGetNodes(graph, nullptr, &n));
  CHECK(n == 0);
  OK(cudaGraphDestroy(graph));

  OK(cudaFree(during));
  OK(cudaFree(buf));
  OK(cudaFree(out));
  OK(cudaStreamDestroy(s2));
  OK(cudaStreamDestroy(s));
}

void test_invalidation() {
  std::printf("capture invalidation\n");
  cudaStream_t s = nullptr;
  OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  void* d = nullptr;
  OK(cudaMalloc(&d, 256));
  std::vector<char> host(256, 0);
  std::vector<int> log;
  cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(1);

  // A host copy on the capturing stream: refused, and the capture is dead from then on.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  era_sim::submit(s, [&] { log.push_back(1); });
  EXPECT(cudaMemcpyAsync(d, host.data(), 256, cudaMemcpyHostToDevice, s),
         cudaErrorStreamCaptureUnsupported);
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  OK(cudaStreamIsCapturing(s, &st));
  CHECK(st == cudaStreamCaptureStatusInvalidated);
  EXPECT(cudaMemcpyAsync(host.data(), d, 256, cudaMemcpyDeviceToHost, s),
         cudaErrorStreamCaptureInvalidated);
  EXPECT(cudaMemsetAsync(d, 0, 256, s), cudaErrorStreamCaptureInvalidated);
  era_sim::submit(s, [&] { log.push_back(2); });
  CHECK(cudaGetLastError() == cudaErrorStreamCaptureInvalidated);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr && log.empty());
  // The stream is usable again afterwards.
  era_sim::submit(s, [&] { log.push_back(3); });
  CHECK((log == std::vector<int>{3}));
  CHECK(cudaGetLastError() == cudaSuccess);

  // Synchronising the capturing stream.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);

  // A synchronous copy while recording, and cudaFree (which synchronises the device).
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaMemcpy(host.data(), d, 256, cudaMemcpyDeviceToHost), cudaErrorStreamCaptureUnsupported);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaFree(d), cudaErrorStreamCaptureUnsupported);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  OK(cudaFree(d));  // the refused free left the block allocated

  // cudaMalloc is refused during a Global-mode capture (relaxed mode allows it, see above).
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  void* p = reinterpret_cast<void*>(1);
  EXPECT(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  CHECK(p == nullptr);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);

  // The legacy stream cannot capture, and cannot be used while a blocking stream captures.
  EXPECT(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeRelaxed),
         cudaErrorStreamCaptureUnsupported);
  cudaStream_t blocking = nullptr;
  OK(cudaStreamCreateWithFlags(&blocking, cudaStreamDefault));
  OK(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaStreamIsCapturing(nullptr, &st), cudaErrorStreamCaptureImplicit);  // query only
  OK(cudaStreamIsCapturing(blocking, &st));
  CHECK(st == cudaStreamCaptureStatusActive);
  log.clear();
  era_sim::submit(nullptr, [&] { log.push_back(4); });
  CHECK(log.empty() && cudaGetLastError() == cudaErrorStreamCaptureImplicit);
  EXPECT(cudaStreamEndCapture(blocking, &graph), cudaErrorStreamCaptureInvalidated);
  // ...but a non-blocking stream's capture leaves the legacy stream alone.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  era_sim::submit(nullptr, [&] { log.push_back(5); });
  CHECK((log == std::vector<int>{5}));
  OK(cudaStreamEndCapture(s, &graph));
  OK(cudaGraphDestroy(graph));
  OK(cudaStreamDestroy(blocking));

  // Destroying a capturing stream is refused; bad handles are reported.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  EXPECT(cudaStreamDestroy(s), cudaErrorStreamCaptureUnsupported);
  EXPECT(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT(cudaStreamDestroy(nullptr), cudaErrorInvalidResourceHandle);
  OK(cudaStreamDestroy(s));
  CHECK(used() == 0);
}

void test_events() {
  std::printf("events\n");
  cudaStream_t s = nullptr;
  OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t start = nullptr, stop = nullptr, untimed = nullptr, fresh = nullptr;
  OK(cudaEventCreate(&start));
  OK(cudaEventCreate(&stop));
  OK(cudaEventCreate(&fresh));
  OK(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));
  EXPECT(cudaEventCreateWithFlags(&fresh, cudaEventInterprocess), cudaErrorInvalidValue);
  OK(cudaEventSynchronize(fresh));  // never recorded: nothing to wait for
  OK(cudaEventRecord(start, s));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  OK(cudaEventRecord(stop, s));
  OK(cudaEventRecord(untimed, nullptr));
  OK(cudaEventSynchronize(stop));
  float ms = -1;
  OK(cudaEventElapsedTime(&ms, start, stop));
  CHECK(ms >= 19.0f && ms < 2000.0f);
  EXPECT(cudaEventElapsedTime(&ms, start, untimed), cudaErrorInvalidResourceHandle);
  EXPECT(cudaEventElapsedTime(&ms, fresh, stop), cudaErrorInvalidResourceHandle);
  EXPECT(cudaEventElapsedTime(nullptr, start, stop), cudaErrorInvalidValue);
  EXPECT(cudaEventRecord(nullptr, s), cudaErrorInvalidResourceHandle);

  // An event recorded inside a capture cannot be waited on or timed from the host.
  OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  OK(cudaEventRecord(stop, s));
  EXPECT(cudaEventSynchronize(stop), cudaErrorCapturedEvent);
  EXPECT(cudaEventElapsedTime(&ms, start, stop), cudaErrorCapturedEvent);
  cudaGraph_t graph = nullptr;
  OK(cudaStreamEndCapture(s, &graph));
  OK(cudaGraphDestroy(graph));
  OK(cudaEventRecord(stop, s));  // recording it again outside a capture clears that
  OK(cudaEventElapsedTime(&ms, start, stop));

  OK(cudaEventDestroy(start));
  OK(cudaEventDestroy(stop));
  OK(cudaEventDestroy(untimed));
  OK(cudaEventDestroy(fresh));
  OK(cudaStreamDestroy(s));
}

void kernel_stand_in() {}

void test_func_attribute() {
  std::printf("function attributes\n");
  const void* f = reinterpret_cast<const void*>(&kernel_stand_in);
  CHECK(era_sim::max_dynamic_shared_memory(f) == 0);
  OK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
  CHECK(era_sim::max_dynamic_shared_memory(f) == 227 * 1024);
  EXPECT(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024 + 1),
         cudaErrorInvalidValue);
  EXPECT(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, -1),
         cudaErrorInvalidValue);
  CHECK(era_sim::max_dynamic_shared_memory(f) == 227 * 1024);
  EXPECT(cudaFuncSetAttribute(nullptr, cudaFuncAttributeMaxDynamicSharedMemorySize, 0),
         cudaErrorInvalidDeviceFunction);
  EXPECT(cudaFuncSetAttribute(f, cudaFuncAttributeRequiredClusterWidth, 2), cudaErrorInvalidValue);
}

}  // namespace

int main() {
  // Before the first allocation or query: the capacity is read once.
  setenv("ERA_SIM_DEVICE_MEMORY", std::to_string(kCapacity).c_str(), 1);
  test_device();
  test_errors();
  test_memory();
  test_capture();
  test_invalidation();
  test_events();
  test_func_attribute();
  std::printf("cudart_sim selftest: %d checks, %d failed: %s\n", g_checks, g_failed,
              g_failed == 0 ? "PASS" : "FAIL");
  return g_failed == 0 ? 0 : 1;
}
