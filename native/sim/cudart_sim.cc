// The CUDA runtime for the simulator build, where the .cu kernels are compiled as C++ and run on
// the CPU. "Device" memory is aligned host memory, every piece of work runs synchronously on the
// calling thread, and streams only carry graph-capture state. Error codes, capture rules and
// handle checks follow cudart, so native/core/cuda_runtime.cc sees what it would see on a GPU.
//
// Threading: streams, captures and graphs assume one thread at a time (the library stream's
// owner). Memory bookkeeping sits behind a small lock, because finish_read() frees pinned blocks
// on a worker thread while the main thread may be allocating; the lock is never held while work
// runs. Events keep their state in the event itself, and the last error is an atomic.
#include "cudart_sim.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

using SimClock = std::chrono::steady_clock;

// ---- handle objects (the runtime's handle types point to these otherwise incomplete structs) --
// The magic words catch null, foreign and (usually) destroyed handles.

struct CUgraphNode_st {
  std::function<void()> work;
};

struct CUgraph_st {
  uint32_t magic = 0;
  std::vector<std::unique_ptr<CUgraphNode_st>> nodes;
};

struct CUgraphExec_st {
  uint32_t magic = 0;
  // Shared so that a replay recorded into another capture outlives this exec's destruction.
  std::shared_ptr<const std::vector<std::function<void()>>> nodes;
};

struct CUstream_st {
  uint32_t magic = 0;
  unsigned flags = 0;
  bool legacy = false;
  bool capturing = false;
  bool invalidated = false;  // a capture rule was broken; EndCapture will fail
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  unsigned long long capture_id = 0;
  std::thread::id owner;  // the thread that began the capture
  CUgraph_st* graph = nullptr;
  cudaGraphNode_t tail = nullptr;  // last captured node (cudaStreamGetCaptureInfo's dependency)
};

struct CUevent_st {
  uint32_t magic = 0;
  unsigned flags = 0;
  bool recorded = false;
  unsigned long long captured_in = 0;  // capture id when last recorded inside a capture
  SimClock::time_point at;
};

namespace {

constexpr uint32_t kStreamMagic = 0x5354524du, kEventMagic = 0x4556544eu,
                   kGraphMagic = 0x47525048u, kExecMagic = 0x47455845u;
constexpr size_t kDeviceAlign = 256;  // cudaMalloc's documented alignment
constexpr size_t kHostAlign = 4096;   // pinned memory is page aligned
constexpr size_t kDefaultCapacity = size_t(8) << 30;
constexpr int kSharedPerBlock = 48 * 1024;
constexpr int kSharedPerBlockOptin = 227 * 1024;
constexpr int kVersion = 13000;

std::atomic<int> g_last_error{cudaSuccess};
thread_local int t_device = 0;

// Failing runtime calls set the last error too (cuda_runtime.cc clears it after each failure).
cudaError_t report(cudaError_t e) {
  if (e != cudaSuccess) era_sim::record_error(e);
  return e;
}

// ---- memory bookkeeping --------------------------------------------------------------------

struct DeviceBlock {
  size_t bytes;    // as requested: copies and memsets must stay inside
  size_t charged;  // rounded to the alignment: what counts against the capacity
};

struct Registry {
  std::mutex mu;
  std::map<uintptr_t, DeviceBlock> device;  // ordered, to find the block holding an interior pointer
  size_t in_use = 0;
  std::unordered_map<void*, size_t> host;
  std::unordered_map<const void*, int> max_dynamic_smem;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: finalizers may free memory at exit
  return *r;
}

size_t capacity() {
  static const size_t bytes = [] {
    const char* env = std::getenv("ERA_SIM_DEVICE_MEMORY");
    if (!env || *env < '0' || *env > '9') return kDefaultCapacity;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) return kDefaultCapacity;
    return static_cast<size_t>(v);
  }();
  return bytes;
}

// True when [p, p + n) lies inside one live device allocation. Caller holds the registry lock.
bool in_device_block(const Registry& r, const void* p, size_t n) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = r.device.upper_bound(a);
  if (it == r.device.begin()) return false;
  --it;
  size_t offset = a - it->first;
  return offset < it->second.bytes && n <= it->second.bytes - offset;
}

// ---- streams and capture state -------------------------------------------------------------

CUstream_st& legacy_stream() {
  static CUstream_st* s = [] {
    auto* x = new CUstream_st();
    x->magic = kStreamMagic;
    x->legacy = true;
    return x;
  }();
  return *s;
}

CUstream_st& per_thread_stream() {
  thread_local CUstream_st s = [] {
    CUstream_st x;
    x.magic = kStreamMagic;
    return x;
  }();
  return s;
}

// Streams with a capture under way (usually none or one).
std::vector<CUstream_st*>& captures() {
  static auto* v = new std::vector<CUstream_st*>();
  return *v;
}

cudaError_t resolve(cudaStream_t h, CUstream_st** out) {
  if (h == nullptr || h == cudaStreamLegacy) {
    *out = &legacy_stream();
  } else if (h == cudaStreamPerThread) {
    *out = &per_thread_stream();
  } else if (h->magic == kStreamMagic) {
    *out = h;
  } else {
    return cudaErrorInvalidResourceHandle;
  }
  return cudaSuccess;
}

bool blocking(const CUstream_st* s) { return (s->flags & cudaStreamNonBlocking) == 0; }

// Work on the legacy stream waits for every blocking stream. A capturing one cannot be waited
// for, so, as in cudart, its capture is invalidated and the call fails.
cudaError_t legacy_conflict() {
  bool hit = false;
  for (CUstream_st* s : captures())
    if (blocking(s)) {
      s->invalidated = true;
      hit = true;
    }
  return hit ? cudaErrorStreamCaptureImplicit : cudaSuccess;
}

// A call that cannot be part of a capture on `s` (a host copy, a synchronisation) ends it badly.
cudaError_t refuse_in_capture(CUstream_st* s) {
  if (s->invalidated) return cudaErrorStreamCaptureInvalidated;
  s->invalidated = true;
  return cudaErrorStreamCaptureUnsupported;
}

// "Potentially unsafe" calls (cudaMalloc, cudaHostAlloc) are refused while a capture that is not
// relaxed is under way: from any thread for Global mode, from its own thread for ThreadLocal.
cudaError_t unsafe_call_conflict() {
  bool hit = false;
  const auto self = std::this_thread::get_id();
  for (CUstream_st* s : captures()) {
    if (s->mode == cudaStreamCaptureModeRelaxed) continue;
    if (s->mode == cudaStreamCaptureModeThreadLocal && s->owner != self) continue;
    s->invalidated = true;
    hit = true;
  }
  return hit ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

// Calls that synchronise with the whole device (cudaFree, cudaDeviceSynchronize, synchronous
// copies) would wait on work that is being recorded instead of run: refused in any mode.
cudaError_t sync_conflict() {
  for (CUstream_st* s : captures()) s->invalidated = true;
  return captures().empty() ? cudaSuccess : cudaErrorStreamCaptureUnsupported;
}

// Runs `work`, or records it if the stream is capturing.
cudaError_t enqueue(CUstream_st* s, std::function<void()> work) {
  if (s->capturing) {
    if (s->invalidated) return cudaErrorStreamCaptureInvalidated;
    auto node = std::make_unique<CUgraphNode_st>();
    node->work = std::move(work);
    s->tail = node.get();
    s->graph->nodes.push_back(std::move(node));
    return cudaSuccess;
  }
  if (s->legacy) {
    cudaError_t e = legacy_conflict();
    if (e != cudaSuccess) return e;
  }
  work();
  return cudaSuccess;
}

// Validates a copy and says whether a host buffer takes part. Explicit kinds name the device
// side(s), which must lie inside live allocations; cudaMemcpyDefault infers them (unified
// addressing). Host pointers are not checked: any host memory is legal there.
cudaError_t check_copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind, bool* host) {
  if (!dst || !src) return cudaErrorInvalidValue;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) {
    dst_dev = in_device_block(r, dst, n);
    src_dev = in_device_block(r, src, n);
  } else if ((dst_dev && !in_device_block(r, dst, n)) || (src_dev && !in_device_block(r, src, n))) {
    return cudaErrorInvalidValue;
  }
  *host = !(dst_dev && src_dev);
  return cudaSuccess;
}

bool valid_kind(cudaMemcpyKind kind) {
  return kind >= cudaMemcpyHostToHost && kind <= cudaMemcpyDefault;
}

bool valid_event(cudaEvent_t e) { return e != nullptr && e->magic == kEventMagic; }
bool valid_graph(cudaGraph_t g) { return g != nullptr && g->magic == kGraphMagic; }
bool valid_exec(cudaGraphExec_t g) { return g != nullptr && g->magic == kExecMagic; }

const cudaDeviceProp& properties() {
  static const cudaDeviceProp prop = [] {
    cudaDeviceProp p;
    std::memset(&p, 0, sizeof(p));
    std::strncpy(p.name, "era-sim: CUDA kernels emulated on the CPU", sizeof(p.name) - 1);
    p.totalGlobalMem = capacity();
    p.sharedMemPerBlock = kSharedPerBlock;
    p.sharedMemPerBlockOptin = kSharedPerBlockOptin;
    p.sharedMemPerMultiprocessor = 228 * 1024;
    p.reservedSharedMemPerBlock = 1024;
    p.regsPerBlock = 65536;
    p.regsPerMultiprocessor = 65536;
    p.warpSize = 32;
    p.memPitch = 2147483647;
    p.maxThreadsPerBlock = 1024;
    p.maxThreadsDim[0] = 1024;
    p.maxThreadsDim[1] = 1024;
    p.maxThreadsDim[2] = 64;
    p.maxGridSize[0] = 2147483647;
    p.maxGridSize[1] = 65535;
    p.maxGridSize[2] = 65535;
    p.totalConstMem = 65536;
    p.major = 9;
    p.minor = 0;
    p.textureAlignment = 512;
    p.texturePitchAlignment = 32;
    p.multiProcessorCount = 4;
    p.maxThreadsPerMultiProcessor = 2048;
    p.maxBlocksPerMultiProcessor = 32;
    p.l2CacheSize = 50 * 1024 * 1024;
    p.memoryBusWidth = 5120;
    p.concurrentKernels = 1;
    p.asyncEngineCount = 1;
    p.unifiedAddressing = 1;
    p.canMapHostMemory = 1;
    p.globalL1CacheSupported = 1;
    p.localL1CacheSupported = 1;
    p.streamPrioritiesSupported = 1;
    p.computePreemptionSupported = 1;
    p.deviceNumaId = -1;
    p.hostNumaId = -1;
    return p;
  }();
  return prop;
}

}  // namespace

// ---- the era_sim entry points ------------------------------------------------------------------

namespace era_sim {

void submit(cudaStream_t stream, std::function<void()> work) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e == cudaSuccess) e = enqueue(s, std::move(work));
  report(e);
}

void record_error(cudaError_t e) {
  if (e == cudaSuccess) return;
  int expected = cudaSuccess;
  g_last_error.compare_exchange_strong(expected, static_cast<int>(e));
}

int max_dynamic_shared_memory(const void* func) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.max_dynamic_smem.find(func);
  return it == r.max_dynamic_smem.end() ? 0 : it->second;
}

int visible_devices(const char* cuda_visible_devices) {
  if (!cuda_visible_devices) return 1;
  const char* p = cuda_visible_devices;
  while (*p == ' ') ++p;
  if (*p != '0') return 0;
  ++p;
  while (*p == ' ') ++p;
  return *p == '\0' || *p == ',' ? 1 : 0;
}

}  // namespace era_sim

// ---- errors --------------------------------------------------------------------------------------

// Names and messages as cudart spells them, for the codes the simulator and its launchers use.
#define ERA_SIM_ERRORS(X)                                                                        \
  X(cudaSuccess, "no error")                                                                     \
  X(cudaErrorInvalidValue, "invalid argument")                                                   \
  X(cudaErrorMemoryAllocation, "out of memory")                                                  \
  X(cudaErrorInitializationError, "initialization error")                                        \
  X(cudaErrorMissingConfiguration, "__global__ function call is not configured")                 \
  X(cudaErrorInvalidConfiguration, "invalid configuration argument")                             \
  X(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy")                        \
  X(cudaErrorInvalidDeviceFunction, "invalid device function")                                   \
  X(cudaErrorNoDevice, "no CUDA-capable device is detected")                                     \
  X(cudaErrorInvalidDevice, "invalid device ordinal")                                            \
  X(cudaErrorInvalidResourceHandle, "invalid resource handle")                                   \
  X(cudaErrorIllegalState, "the operation cannot be performed in the present state")             \
  X(cudaErrorNotReady, "device not ready")                                                       \
  X(cudaErrorIllegalAddress, "an illegal memory access was encountered")                         \
  X(cudaErrorLaunchOutOfResources, "too many resources requested for launch")                    \
  X(cudaErrorLaunchTimeout, "the launch timed out and was terminated")                           \
  X(cudaErrorAssert, "device-side assert triggered")                                             \
  X(cudaErrorIllegalInstruction, "an illegal instruction was encountered")                       \
  X(cudaErrorMisalignedAddress, "misaligned address")                                            \
  X(cudaErrorLaunchFailure, "unspecified launch failure")                                        \
  X(cudaErrorCooperativeLaunchTooLarge, "too many blocks in cooperative launch")                 \
  X(cudaErrorNotSupported, "operation not supported")                                            \
  X(cudaErrorStreamCaptureUnsupported, "operation not permitted when stream is capturing")       \
  X(cudaErrorStreamCaptureInvalidated, "operation failed due to a previous error during capture") \
  X(cudaErrorStreamCaptureImplicit,                                                              \
    "operation would make the legacy stream depend on a capturing blocking stream")              \
  X(cudaErrorCapturedEvent,                                                                      \
    "operation not permitted on an event last recorded in a capturing stream")                   \
  X(cudaErrorStreamCaptureWrongThread,                                                           \
    "attempt to terminate a thread-local capture sequence from another thread")                  \
  X(cudaErrorUnknown, "unknown error")

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define ERA_SIM_NAME(code, text) \
  case code:                     \
    return #code;
    ERA_SIM_ERRORS(ERA_SIM_NAME)
#undef ERA_SIM_NAME
    default:
      return "unrecognized error code";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
#define ERA_SIM_TEXT(code, text) \
  case code:                     \
    return text;
    ERA_SIM_ERRORS(ERA_SIM_TEXT)
#undef ERA_SIM_TEXT
    default:
      return "unrecognized error code";
  }
}

cudaError_t cudaGetLastError(void) {
  return static_cast<cudaError_t>(g_last_error.exchange(cudaSuccess));
}

cudaError_t cudaPeekAtLastError(void) { return static_cast<cudaError_t>(g_last_error.load()); }

// ---- device and versions -------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return report(cudaErrorInvalidValue);
  *count = era_sim::visible_devices(std::getenv("CUDA_VISIBLE_DEVICES"));
  return *count ? cudaSuccess : report(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return report(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return report(cudaErrorInvalidValue);
  *device = t_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return report(cudaErrorInvalidValue);
  if (device != 0) return report(cudaErrorInvalidDevice);
  *prop = properties();
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return report(cudaErrorInvalidValue);
  if (device != 0) return report(cudaErrorInvalidDevice);
  const cudaDeviceProp& p = properties();
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrTotalConstantMemory: *value = static_cast<int>(p.totalConstMem); break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrIntegrated: *value = p.integrated; break;
    case cudaDevAttrConcurrentKernels: *value = p.concurrentKernels; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrUnifiedAddressing: *value = p.unifiedAddressing; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(p.sharedMemPerMultiprocessor);
      break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = p.regsPerMultiprocessor; break;
    case cudaDevAttrCooperativeLaunch: *value = p.cooperativeLaunch; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(p.sharedMemPerBlockOptin);
      break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = p.maxBlocksPerMultiProcessor; break;
    case cudaDevAttrReservedSharedMemoryPerBlock:
      *value = static_cast<int>(p.reservedSharedMemPerBlock);
      break;
    default: return report(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  // Nothing is ever pending; only the capture rule applies.
  return report(sync_conflict());
}

cudaError_t cudaDriverGetVersion(int* driverVersion) {
  if (!driverVersion) return report(cudaErrorInvalidValue);
  *driverVersion = kVersion;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* runtimeVersion) {
  if (!runtimeVersion) return report(cudaErrorInvalidValue);
  *runtimeVersion = kVersion;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return report(cudaErrorInvalidDeviceFunction);
  switch (attr) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize: {
      if (value < 0 || value > kSharedPerBlockOptin) return report(cudaErrorInvalidValue);
      Registry& r = registry();
      std::lock_guard<std::mutex> lock(r.mu);
      r.max_dynamic_smem[func] = value;
      return cudaSuccess;
    }
    case cudaFuncAttributePreferredSharedMemoryCarveout:
      // A hint only; -1 means "no preference".
      return value < -1 || value > 100 ? report(cudaErrorInvalidValue) : cudaSuccess;
    default:
      return report(cudaErrorInvalidValue);
  }
}

// ---- memory ------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  if (!devPtr) return report(cudaErrorInvalidValue);
  *devPtr = nullptr;
  cudaError_t e = unsafe_call_conflict();
  if (e != cudaSuccess) return report(e);
  if (size == 0) return cudaSuccess;  // as cudart: success and a null pointer
  if (size > SIZE_MAX - (kDeviceAlign - 1)) return report(cudaErrorMemoryAllocation);
  const size_t charged = (size + kDeviceAlign - 1) & ~(kDeviceAlign - 1);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (charged > capacity() - r.in_use) return report(cudaErrorMemoryAllocation);
  void* p = std::aligned_alloc(kDeviceAlign, charged);
  if (!p) return report(cudaErrorMemoryAllocation);
  r.device.emplace(reinterpret_cast<uintptr_t>(p), DeviceBlock{size, charged});
  r.in_use += charged;
  *devPtr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr) {
  if (!devPtr) return cudaSuccess;
  // cudaFree synchronises the device, which a capture cannot record; the block stays allocated.
  cudaError_t e = sync_conflict();
  if (e != cudaSuccess) return report(e);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.device.find(reinterpret_cast<uintptr_t>(devPtr));
  if (it == r.device.end()) return report(cudaErrorInvalidValue);
  r.in_use -= it->second.charged;
  r.device.erase(it);
  std::free(devPtr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (!free || !total) return report(cudaErrorInvalidValue);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  *total = capacity();
  *free = capacity() - r.in_use;
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** pHost, size_t size, unsigned int flags) {
  if (!pHost) return report(cudaErrorInvalidValue);
  *pHost = nullptr;
  const unsigned known = cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined;
  if (flags & ~known) return report(cudaErrorInvalidValue);
  cudaError_t e = unsafe_call_conflict();
  if (e != cudaSuccess) return report(e);
  if (size == 0) return cudaSuccess;
  if (size > SIZE_MAX - (kHostAlign - 1)) return report(cudaErrorMemoryAllocation);
  // Pinned memory is not device memory: it does not count against the simulated capacity.
  void* p = std::aligned_alloc(kHostAlign, (size + kHostAlign - 1) & ~(kHostAlign - 1));
  if (!p) return report(cudaErrorMemoryAllocation);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.host.emplace(p, size);
  *pHost = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.host.find(ptr);
    if (it == r.host.end()) return report(cudaErrorInvalidValue);
    r.host.erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return report(cudaErrorInvalidMemcpyDirection);
  if (count == 0) return cudaSuccess;
  bool host = false;
  cudaError_t e = check_copy(dst, src, count, kind, &host);
  // A synchronous copy runs on the legacy stream and waits for the device.
  if (e == cudaSuccess) e = legacy_conflict();
  if (e == cudaSuccess) e = sync_conflict();
  if (e != cudaSuccess) return report(e);
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (!valid_kind(kind)) return report(cudaErrorInvalidMemcpyDirection);
  if (count == 0) return cudaSuccess;
  bool host = false;
  e = check_copy(dst, src, count, kind, &host);
  if (e != cudaSuccess) return report(e);
  // Only device-to-device copies become graph nodes; a host buffer cannot be baked in here.
  if (host && s->capturing) return report(refuse_in_capture(s));
  // memmove: overlapping ranges are undefined in CUDA; here they at least do not corrupt.
  return report(enqueue(s, [dst, src, count] { std::memmove(dst, src, count); }));
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (count == 0) return cudaSuccess;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    if (!devPtr || !in_device_block(r, devPtr, count)) return report(cudaErrorInvalidValue);
  }
  const unsigned char byte = static_cast<unsigned char>(value);
  return report(enqueue(s, [devPtr, byte, count] { std::memset(devPtr, byte, count); }));
}

// ---- streams ---------------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
  if (!pStream) return report(cudaErrorInvalidValue);
  if (flags & ~unsigned(cudaStreamNonBlocking)) return report(cudaErrorInvalidValue);
  auto* s = new CUstream_st();
  s->magic = kStreamMagic;
  s->flags = flags;
  *pStream = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) {
  return cudaStreamCreateWithFlags(pStream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (s == &legacy_stream() || s == &per_thread_stream())
    return report(cudaErrorInvalidResourceHandle);
  // A capture must be ended on its stream first; refusing keeps the stream and its graph valid.
  if (s->capturing) return report(refuse_in_capture(s));
  s->magic = 0;
  delete s;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (s->capturing) return report(refuse_in_capture(s));
  if (s->legacy) return report(legacy_conflict());
  return cudaSuccess;  // everything already ran
}

cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
      mode != cudaStreamCaptureModeRelaxed)
    return report(cudaErrorInvalidValue);
  if (s->legacy) return report(cudaErrorStreamCaptureUnsupported);  // cudart: never the legacy stream
  if (s->capturing) return report(cudaErrorIllegalState);           // captures do not nest
  static unsigned long long next_id = 0;
  s->capturing = true;
  s->invalidated = false;
  s->mode = mode;
  s->capture_id = ++next_id;
  s->owner = std::this_thread::get_id();
  s->graph = new CUgraph_st();
  s->graph->magic = kGraphMagic;
  s->tail = nullptr;
  captures().push_back(s);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (!pGraph) return report(cudaErrorInvalidValue);
  if (!s->capturing) return report(cudaErrorIllegalState);
  if (s->mode != cudaStreamCaptureModeRelaxed && s->owner != std::this_thread::get_id())
    return report(cudaErrorStreamCaptureWrongThread);
  auto& list = captures();
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i] == s) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  CUgraph_st* graph = s->graph;
  const bool invalidated = s->invalidated;
  s->capturing = false;
  s->invalidated = false;
  s->graph = nullptr;
  s->tail = nullptr;
  if (invalidated) {
    // cudart hands back no graph for a broken capture; the stream is usable again.
    graph->magic = 0;
    delete graph;
    *pGraph = nullptr;
    return report(cudaErrorStreamCaptureInvalidated);
  }
  *pGraph = graph;
  return cudaSuccess;
}

namespace {
// Shared by IsCapturing and GetCaptureInfo. Querying the legacy stream while a blocking stream
// captures is an error but, unlike using it, does not invalidate anything.
cudaError_t capture_status(CUstream_st* s, cudaStreamCaptureStatus* status) {
  if (s->legacy) {
    for (CUstream_st* c : captures())
      if (blocking(c)) return cudaErrorStreamCaptureImplicit;
    *status = cudaStreamCaptureStatusNone;
  } else if (!s->capturing) {
    *status = cudaStreamCaptureStatusNone;
  } else {
    *status = s->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  }
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* pCaptureStatus) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (!pCaptureStatus) return report(cudaErrorInvalidValue);
  return report(capture_status(s, pCaptureStatus));
}

cudaError_t cudaStreamGetCaptureInfo(cudaStream_t stream, cudaStreamCaptureStatus* captureStatus_out,
                                     unsigned long long* id_out, cudaGraph_t* graph_out,
                                     const cudaGraphNode_t** dependencies_out,
                                     const cudaGraphEdgeData** edgeData_out,
                                     size_t* numDependencies_out) {
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (!captureStatus_out) return report(cudaErrorInvalidValue);
  e = capture_status(s, captureStatus_out);
  if (e != cudaSuccess || *captureStatus_out != cudaStreamCaptureStatusActive) return report(e);
  // Captured work is a chain, so the only dependency of the next node is the last one.
  if (id_out) *id_out = s->capture_id;
  if (graph_out) *graph_out = s->graph;
  if (dependencies_out) *dependencies_out = s->tail ? &s->tail : nullptr;
  if (edgeData_out) *edgeData_out = nullptr;  // all edges are default edges
  if (numDependencies_out) *numDependencies_out = s->tail ? 1 : 0;
  return cudaSuccess;
}

// ---- events ----------------------------------------------------------------------------------

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if (!event) return report(cudaErrorInvalidValue);
  const unsigned known = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
  if (flags & ~known) return report(cudaErrorInvalidValue);
  if ((flags & cudaEventInterprocess) && !(flags & cudaEventDisableTiming))
    return report(cudaErrorInvalidValue);
  auto* ev = new CUevent_st();
  ev->magic = kEventMagic;
  ev->flags = flags;
  *event = ev;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!valid_event(event)) return report(cudaErrorInvalidResourceHandle);
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  if (s->capturing) {
    // Legal (it orders captured work); the event then refuses host-side waits and timing.
    if (s->invalidated) return report(cudaErrorStreamCaptureInvalidated);
    event->captured_in = s->capture_id;
    event->recorded = false;
    return cudaSuccess;
  }
  if (s->legacy) {
    e = legacy_conflict();
    if (e != cudaSuccess) return report(e);
  }
  // Work runs at submission, so "now" is when everything queued before the event completed.
  event->recorded = true;
  event->captured_in = 0;
  event->at = SimClock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!valid_event(event)) return report(cudaErrorInvalidResourceHandle);
  if (event->captured_in) return report(cudaErrorCapturedEvent);
  return cudaSuccess;  // recorded or not, nothing is pending
}

cudaError_t cudaEventQuery(cudaEvent_t event) { return cudaEventSynchronize(event); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return report(cudaErrorInvalidValue);
  if (!valid_event(start) || !valid_event(end)) return report(cudaErrorInvalidResourceHandle);
  if (start->captured_in || end->captured_in) return report(cudaErrorCapturedEvent);
  if ((start->flags | end->flags) & cudaEventDisableTiming)
    return report(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return report(cudaErrorInvalidResourceHandle);
  *ms = static_cast<float>(std::chrono::duration<double, std::milli>(end->at - start->at).count());
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!valid_event(event)) return report(cudaErrorInvalidResourceHandle);
  event->magic = 0;
  delete event;
  return cudaSuccess;
}

// ---- graphs ----------------------------------------------------------------------------------

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* pGraphExec, cudaGraph_t graph,
                                 unsigned long long flags) {
  if (!pGraphExec || !valid_graph(graph)) return report(cudaErrorInvalidValue);
  const unsigned long long known =
      cudaGraphInstantiateFlagAutoFreeOnLaunch | cudaGraphInstantiateFlagUpload |
      cudaGraphInstantiateFlagDeviceLaunch | cudaGraphInstantiateFlagUseNodePriority;
  if (flags & ~known) return report(cudaErrorInvalidValue);
  // A snapshot: later changes to (or destruction of) the graph leave the exec as it was.
  auto nodes = std::make_shared<std::vector<std::function<void()>>>();
  nodes->reserve(graph->nodes.size());
  for (const auto& node : graph->nodes) nodes->push_back(node->work);
  auto* exec = new CUgraphExec_st();
  exec->magic = kExecMagic;
  exec->nodes = std::move(nodes);
  *pGraphExec = exec;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* numNodes) {
  if (!numNodes || !valid_graph(graph)) return report(cudaErrorInvalidValue);
  const size_t count = graph->nodes.size();
  if (!nodes) {
    *numNodes = count;
    return cudaSuccess;
  }
  // As cudart: fill up to *numNodes, null the unused rest, report how many were written.
  const size_t room = *numNodes;
  for (size_t i = 0; i < room; ++i) nodes[i] = i < count ? graph->nodes[i].get() : nullptr;
  *numNodes = room < count ? room : count;
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream) {
  if (!valid_exec(graphExec)) return report(cudaErrorInvalidValue);
  CUstream_st* s = nullptr;
  cudaError_t e = resolve(stream, &s);
  if (e != cudaSuccess) return report(e);
  std::shared_ptr<const std::vector<std::function<void()>>> nodes = graphExec->nodes;
  if (s->capturing) {
    // Launching a graph into a capture records one node that replays it.
    return report(enqueue(s, [nodes] {
      for (const auto& work : *nodes) work();
    }));
  }
  if (s->legacy) {
    e = legacy_conflict();
    if (e != cudaSuccess) return report(e);
  }
  // Kernel nodes report their own failures through record_error; an exception must not cross
  // this C entry point, so it becomes a launch failure and the remaining nodes are skipped.
  try {
    for (const auto& work : *nodes) work();
  } catch (...) {
    return report(cudaErrorLaunchFailure);
  }
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec) {
  if (!valid_exec(graphExec)) return report(cudaErrorInvalidValue);
  graphExec->magic = 0;
  delete graphExec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  if (!valid_graph(graph)) return report(cudaErrorInvalidValue);
  graph->magic = 0;
  delete graph;
  return cudaSuccess;
}
