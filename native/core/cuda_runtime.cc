// The CUDA build's runtime layer: lazy device initialisation, the library stream, a caching device
// allocator (no cudaMalloc/cudaFree on the hot path), pinned staging buffers and event timers.
// Every CUDA status is checked and becomes an era::Error; nothing here exits or aborts.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda_runtime.h"
#include "error.h"

#if defined(__linux__)
#include <dlfcn.h>
#endif

#ifndef ERA_CUDA_ARCHITECTURES
#define ERA_CUDA_ARCHITECTURES ""
#endif

namespace era::cuda_rt {

namespace {

struct Context {
  std::once_flag once;
  bool ok = false;
  std::string reason;
  int device = 0;
  cudaStream_t stream = nullptr;
};

Context& ctx() {
  static Context c;
  return c;
}

std::string describe(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

// "12.2" for 12020.
std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// Whether the NVIDIA driver's library is there: already loaded (by the CUDA runtime), or loadable.
// Where it is not, the runtime reports cudaErrorInsufficientDriver, whose text ("CUDA driver
// version is insufficient for CUDA runtime version") sends someone without a driver to upgrade it.
bool driver_library_present() {
#if defined(__linux__)
  for (int flags : {RTLD_LAZY | RTLD_NOLOAD, RTLD_LAZY}) {
    if (void* h = dlopen("libcuda.so.1", flags)) {
      dlclose(h);
      return true;
    }
  }
  return false;
#else
  return true;  // not looked for elsewhere: the runtime's own message stands
#endif
}

// Why cudaGetDeviceCount failed, in words for the user.
std::string no_device_reason(cudaError_t e) {
  if (e == cudaErrorInsufficientDriver) {
    if (!driver_library_present())
      return std::string("no usable CUDA device: no NVIDIA driver found (libcuda.so.1 is not installed or cannot be loaded; ") +
             cudaGetErrorName(e) + ")";
    int driver = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
    const std::string found = driver > 0 ? "; the driver supports CUDA " + version_text(driver) + "," : ";";
    return "no usable CUDA device (" + describe(e) + found + " this build's runtime is CUDA " +
           version_text(CUDART_VERSION) + ")";
  }
  return "no usable CUDA device (" + describe(e) + ")";
}

void init_once() {
  Context& c = ctx();
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    c.reason = no_device_reason(e);
    return;
  }
  if (count == 0) {
    c.reason = "no CUDA device found";
    return;
  }
  const char* env = std::getenv("ERA_CUDA_DEVICE");
  c.device = env ? std::atoi(env) : 0;
  if (c.device < 0 || c.device >= count) {
    c.reason = "ERA_CUDA_DEVICE=" + std::string(env) + " is out of range (" +
               std::to_string(count) + " device(s))";
    return;
  }
  e = cudaSetDevice(c.device);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    cudaGetLastError();
    c.reason = "CUDA initialisation failed (" + describe(e) + ")";
    return;
  }
  c.ok = true;
}

Context& ready(const char* op) {
  Context& c = ctx();
  std::call_once(c.once, init_once);
  if (!c.ok) throw Error(ErrorKind::NoDevice, std::string(op) + ": " + c.reason);
  // Worker threads (async reads) need the device selected on their own thread.
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != c.device) cudaSetDevice(c.device);
  return c;
}

// ---- caching allocator ---------------------------------------------------------------------
// Sizes round up to 512 B below 1 MiB and to 1/8 of their power of two above it (<= 12.5% waste),
// and freed blocks wait in per-size free lists. Reuse is safe because all work runs on one stream.
size_t bucket_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < (1u << 20)) return (bytes + 511) & ~size_t(511);
  size_t pow2 = size_t(1) << (63 - __builtin_clzll(bytes));
  size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

struct Allocator {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_lists;
  std::unordered_map<void*, size_t> live;
  AllocatorStats stats;
  // CUDA graphs address the blocks they were recorded with, so no other tensor may get such a
  // block while a graph that uses it is alive. A graph uses the blocks allocated while it was
  // recorded and those freed while it was recorded (whatever existed before the recording and
  // outlives it is the caller's to keep alive). graph_refs counts, per block, the live graphs
  // that use it; a block freed while it has graph references, or while a recording is in
  // progress, is parked instead of cached, and is cached when its last graph is destroyed.
  bool capturing = false;
  std::vector<void*> capture_uses;                   // the recording in progress uses these
  std::unordered_map<void*, int> graph_refs;         // block -> live graphs using it
  std::unordered_map<void*, size_t> parked;          // freed blocks still used by a graph

  // Caches `p` (freed, in `parked`) once no graph and no recording in progress uses it.
  void unpark_if_unused_locked(void* p) {
    if (graph_refs.count(p)) return;
    auto it = parked.find(p);
    if (it == parked.end()) return;
    // A graph disposed while another records: the recording may use p too (freed during it), so
    // it takes p over, and destroying or abandoning it caches p.
    if (capturing) {
      capture_uses.push_back(p);
      return;
    }
    free_lists[it->second].push_back(p);
    stats.cached += it->second;
    parked.erase(it);
  }

  void release_cache_locked() {
    for (auto& [size, blocks] : free_lists)
      for (void* p : blocks) cudaFree(p);
    free_lists.clear();
    stats.cached = 0;
  }
};

Allocator& allocator() {
  static Allocator* a = new Allocator();  // never destroyed: GC finalizers may run at exit
  return *a;
}

// ---- pinned staging ------------------------------------------------------------------------
constexpr size_t kStagingBytes = size_t(8) << 20;

struct StagingSlot {
  void* host = nullptr;
  cudaEvent_t done = nullptr;
  bool in_flight = false;
};

struct Staging {
  std::mutex mu;
  StagingSlot slots[2];
  int next = 0;
  bool ready = false;
  // Pinned blocks for asynchronous reads, cached by size.
  std::multimap<size_t, void*> read_blocks;
  // Read blocks the cache did not keep. finish_read runs on a worker thread, possibly while the
  // main thread records a graph, so it leaves cudaFreeHost (which may synchronise) to begin_read.
  std::vector<void*> to_free;
};

Staging& staging() {
  static Staging* s = new Staging();
  return *s;
}

void ensure_staging(Staging& s, const char* op) {
  if (s.ready) return;
  // A slot made before a failure (pinned memory can run out) is kept for the next try, not made again.
  for (auto& slot : s.slots) {
    if (!slot.host) {
      void* host = nullptr;
      check(cudaHostAlloc(&host, kStagingBytes, cudaHostAllocPortable), op);
      slot.host = host;
    }
    if (!slot.done) {
      cudaEvent_t done = nullptr;
      check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), op);
      slot.done = done;
    }
  }
  s.ready = true;
}

// Host transfers and synchronisation cannot be recorded into a graph (the staging buffers would
// be baked in, and a sync ends the capture): refuse them with a clear error instead.
// A graph records all work queued on the library stream, from any thread: work another thread
// (a worker) queued while one thread records would land in that graph and not run now. The
// recording thread is marked, and the other threads' ops are refused until the recording ends
// (checked as each op starts: an op already past the check when the recording begins is not).
std::atomic<bool> g_recording{false};
thread_local bool t_recording = false;

void refuse_other_threads_while_recording(const char* op) {
  if (g_recording.load(std::memory_order_acquire) && !t_recording)
    throw Error(ErrorKind::Range, std::string(op) + ": another thread is recording a CUDA graph, which would take this work " +
                                      "instead of running it; run it before or after that recording");
}

void refuse_while_capturing(const char* op, const char* what) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  if (a.capturing)
    throw Error(ErrorKind::Range, std::string(op) + ": " + what +
                                      " cannot run while a CUDA graph is being captured; move it out of the captured function");
}

struct Timer {
  cudaEvent_t start = nullptr, stop = nullptr;
};

Timer& timer() {
  static Timer t;
  return t;
}

}  // namespace

struct PendingRead {
  void* pinned = nullptr;
  size_t capacity = 0;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};

bool built_with_cuda() { return true; }
const char* build_architectures() { return ERA_CUDA_ARCHITECTURES; }

bool available() {
  Context& c = ctx();
  std::call_once(c.once, init_once);
  return c.ok;
}

DeviceInfo device_info() {
  DeviceInfo info;
  Context& c = ctx();
  std::call_once(c.once, init_once);
  cudaDriverGetVersion(&info.driver_version);
  cudaRuntimeGetVersion(&info.runtime_version);
  if (!c.ok) {
    info.reason = c.reason;
    return info;
  }
  ready("info");  // cudaMemGetInfo below reads the calling thread's current device
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, c.device), "info");
  info.available = true;
  info.index = c.device;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.l2_bytes = prop.l2CacheSize;
  check(cudaMemGetInfo(&info.free_memory, &info.total_memory), "info");
  return info;
}

void* stream() { return ctx().stream; }

void require(const char* op) {
  ready(op);
  refuse_other_threads_while_recording(op);
}

namespace {
// Faults that leave the CUDA context unusable: every later call in the process fails with them.
bool sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorMisalignedAddress:
    case cudaErrorAssert: case cudaErrorIllegalInstruction: case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc: case cudaErrorHardwareStackError: case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
#if CUDART_VERSION >= 12080
    // An error the GPU's containment caught (NVLink peer access, some hardware errors), and a
    // kernel that exited still holding tensor memory (sm_100): both leave the process unusable.
    case cudaErrorContained: case cudaErrorTensorMemoryLeak:
#endif
      return true;
    default:
      return false;
  }
}

std::mutex g_lost_mu;
std::string g_lost;  // where the context was first found lost (empty while it is usable)

// "<op>: CUDA error <name>: <text>", and for a fault that loses the context, what that means.
// A kernel fault surfaces at the next call that waits for the device, often a later op's: the
// first op to see it is remembered, and later errors point back to it.
std::string error_message(const char* op, cudaError_t e) {
  std::string msg = std::string(op) + ": CUDA error " + describe(e);
  if (!sticky(e)) return msg;
  std::lock_guard<std::mutex> lock(g_lost_mu);
  if (g_lost.empty()) {
    g_lost = op;
    return msg + " (the CUDA context is lost: every later CUDA call in this process fails, so restart it;"
                 " the fault may come from work queued before " + std::string(op) +
                 ", and ERA_CUDA_SYNC=1 makes each op wait for its own work and report its own faults)";
  }
  return msg + " (the CUDA context was lost earlier, first seen by " + g_lost + "; restart the process)";
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// ERA_CUDA_SYNC=1: every op waits for its work and checks it (slow; for finding a faulting kernel).
bool sync_each_op() {
  static const bool on = env_flag("ERA_CUDA_SYNC");
  return on;
}

// ERA_CUDA_POISON=1: every block handed out, fresh or from the cache, is first filled with 0xFF
// bytes (NaN as f32 or bf16, -1 as i32), so a kernel that reads memory nothing wrote shows it.
// Fresh device memory holds garbage and cached blocks the last owner's values, either of which
// can pass for a result. Not while a graph records (the fill would be replayed as a node).
bool poison_allocations() {
  static const bool on = env_flag("ERA_CUDA_POISON");
  return on;
}
}  // namespace

bool loses_context(int status) { return sticky(static_cast<cudaError_t>(status)); }

void check(int status, const char* op) {
  cudaError_t e = static_cast<cudaError_t>(status);
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear non-sticky errors so the process stays usable
  ErrorKind kind = e == cudaErrorMemoryAllocation ? ErrorKind::OutOfMemory : ErrorKind::Cuda;
  throw Error(kind, error_message(op, e));
}

void check_launch(const char* op) {
  check(cudaGetLastError(), op);
  if (sync_each_op() && !capturing()) check(cudaStreamSynchronize(ctx().stream), op);
}

void* device_alloc(size_t bytes, const char* op) {
  ready(op);
  refuse_other_threads_while_recording(op);
  Allocator& a = allocator();
  size_t size = bucket_size(bytes);
  std::lock_guard<std::mutex> lock(a.mu);
  void* p = nullptr;
  auto it = a.free_lists.find(size);
  if (it != a.free_lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    a.stats.cached -= size;
    a.stats.cache_hits++;
  } else {
    cudaError_t e = cudaMalloc(&p, size);
    // Give the cache back and try once more; not while recording a graph, where cudaFree (which
    // synchronises) would end the capture.
    if (e == cudaErrorMemoryAllocation && !a.capturing) {
      cudaGetLastError();
      cudaStreamSynchronize(ctx().stream);  // queued work may still use cached blocks
      a.release_cache_locked();
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      if (e != cudaErrorMemoryAllocation)  // a fault from earlier work, not a full device
        throw Error(ErrorKind::Cuda, error_message(op, e) + " (allocating " + std::to_string(bytes) + " bytes)");
      throw Error(ErrorKind::OutOfMemory, std::string(op) + ": CUDA out of memory allocating " +
                                               std::to_string(bytes) + " bytes (" + std::to_string(free_b) +
                                               " of " + std::to_string(total_b) + " bytes free; " + describe(e) + ")");
    }
    a.stats.device_allocations++;
  }
  if (!a.capturing && poison_allocations()) {
    const cudaError_t pe = cudaMemsetAsync(p, 0xFF, size, ctx().stream);
    if (pe != cudaSuccess) {  // the block goes to the cache, not lost
      a.free_lists[size].push_back(p);
      a.stats.cached += size;
      check(pe, op);
    }
  }
  a.live[p] = size;
  if (a.capturing) a.capture_uses.push_back(p);
  a.stats.in_use += size;
  if (a.stats.in_use > a.stats.peak) a.stats.peak = a.stats.in_use;
  return p;
}

void device_free(void* ptr) {
  if (!ptr) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.live.find(ptr);
  if (it == a.live.end()) return;  // not ours: ignore rather than corrupt the cache
  size_t size = it->second;
  a.live.erase(it);
  a.stats.in_use -= size;
  if (a.capturing) a.capture_uses.push_back(ptr);  // the recording may address it
  if (a.capturing || a.graph_refs.count(ptr)) {
    a.parked[ptr] = size;
    return;
  }
  a.stats.cached += size;
  a.free_lists[size].push_back(ptr);
}

AllocatorStats allocator_stats() {
  AllocatorStats out;
  {
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mu);
    out = a.stats;
  }
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  for (const auto& block : s.read_blocks) out.pinned_read_cached += block.first;
  return out;
}

namespace {
// Frees the read blocks finish_read left (see Staging::to_free); on the JS thread, not recording.
// cudaFreeHost waits for the whole device, so where the caller has not just synchronised
// (`only_if_idle`, from begin_read) they wait for a moment when the stream has nothing queued:
// an asynchronous read must not block the event loop behind the GPU's queue.
void free_deferred_read_blocks(bool only_if_idle = false) {
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.to_free.empty()) return;
  if (only_if_idle) {
    const cudaError_t e = cudaStreamQuery(ctx().stream);
    if (e != cudaSuccess) {
      if (e == cudaErrorNotReady) cudaGetLastError();  // not an error: work is still queued
      return;
    }
  }
  for (void* p : s.to_free) cudaFreeHost(p);
  s.to_free.clear();
}
}  // namespace

void empty_cache() {
  if (!available()) return;
  ready("emptyCache");  // the stream and the frees belong to ERA_CUDA_DEVICE, whatever this thread had
  {
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mu);
    if (a.capturing) return;  // cudaFree would end the capture; the cache stays until later
    cudaStreamSynchronize(ctx().stream);
    a.release_cache_locked();
  }
  {
    // The pinned blocks cached for reads are idle (a read in flight holds its block outside the
    // cache): hand them to the deferred frees below.
    Staging& s = staging();
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& block : s.read_blocks) s.to_free.push_back(block.second);
    s.read_blocks.clear();
  }
  free_deferred_read_blocks();
}

void upload(void* device_dst, const void* host_src, size_t bytes, const char* op) {
  Context& c = ready(op);
  refuse_while_capturing(op, "a host-to-device copy");
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  ensure_staging(s, op);
  const char* src = static_cast<const char*>(host_src);
  char* dst = static_cast<char*>(device_dst);
  // Two slots alternate: the host fills one while the other's DMA runs.
  for (size_t done = 0; done < bytes;) {
    size_t n = bytes - done < kStagingBytes ? bytes - done : kStagingBytes;
    StagingSlot& slot = s.slots[s.next];
    s.next ^= 1;
    if (slot.in_flight) check(cudaEventSynchronize(slot.done), op);
    std::memcpy(slot.host, src + done, n);
    check(cudaMemcpyAsync(dst + done, slot.host, n, cudaMemcpyHostToDevice, c.stream), op);
    check(cudaEventRecord(slot.done, c.stream), op);
    slot.in_flight = true;
    done += n;
  }
}

void download(void* host_dst, const void* device_src, size_t bytes, const char* op) {
  Context& c = ready(op);
  refuse_while_capturing(op, "a device-to-host read");
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  ensure_staging(s, op);
  char* dst = static_cast<char*>(host_dst);
  const char* src = static_cast<const char*>(device_src);
  // Queue the copy into one slot, then drain the previous slot while it runs.
  size_t pending_bytes = 0, pending_at = 0;
  int pending_slot = -1;
  for (size_t done = 0; done < bytes || pending_slot >= 0;) {
    int slot_index = -1;
    size_t n = 0;
    if (done < bytes) {
      n = bytes - done < kStagingBytes ? bytes - done : kStagingBytes;
      slot_index = s.next;
      s.next ^= 1;
      StagingSlot& slot = s.slots[slot_index];
      if (slot.in_flight) check(cudaEventSynchronize(slot.done), op);
      check(cudaMemcpyAsync(slot.host, src + done, n, cudaMemcpyDeviceToHost, c.stream), op);
      check(cudaEventRecord(slot.done, c.stream), op);
      slot.in_flight = true;
    }
    if (pending_slot >= 0) {
      StagingSlot& prev = s.slots[pending_slot];
      check(cudaEventSynchronize(prev.done), op);
      prev.in_flight = false;
      std::memcpy(dst + pending_at, prev.host, pending_bytes);
    }
    pending_slot = slot_index;
    pending_at = done;
    pending_bytes = n;
    done += n;
  }
}

void device_copy(void* dst, const void* src, size_t bytes, const char* op) {
  Context& c = ready(op);
  refuse_other_threads_while_recording(op);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c.stream), op);
}

void synchronize(const char* op) {
  if (!available()) return;
  ready(op);  // selects ERA_CUDA_DEVICE on this thread
  refuse_while_capturing(op, "synchronize()");
  check(cudaStreamSynchronize(ctx().stream), op);
  free_deferred_read_blocks();
}

PendingRead* begin_read(const void* device_src, size_t bytes, const char* op) {
  Context& c = ready(op);
  refuse_while_capturing(op, "a device-to-host read");
  Staging& s = staging();
  auto* read = new PendingRead();
  read->bytes = bytes;
  free_deferred_read_blocks(/*only_if_idle=*/true);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.read_blocks.lower_bound(bytes);
    if (it != s.read_blocks.end() && it->first <= bytes * 2 + (1u << 20)) {
      read->capacity = it->first;
      read->pinned = it->second;
      s.read_blocks.erase(it);
    }
  }
  try {
    if (!read->pinned) {
      read->capacity = bytes < (1u << 20) ? (1u << 20) : bytes;
      check(cudaHostAlloc(&read->pinned, read->capacity, cudaHostAllocPortable), op);
    }
    // BlockingSync: finish_read waits on a worker thread, which should sleep, not spin a core of
    // libuv's small pool while the GPU works through its queue.
    check(cudaEventCreateWithFlags(&read->done, cudaEventDisableTiming | cudaEventBlockingSync), op);
    check(cudaMemcpyAsync(read->pinned, device_src, bytes, cudaMemcpyDeviceToHost, c.stream), op);
    check(cudaEventRecord(read->done, c.stream), op);
  } catch (...) {
    if (read->pinned) cudaFreeHost(read->pinned);
    if (read->done) cudaEventDestroy(read->done);
    delete read;
    throw;
  }
  return read;
}

std::string finish_read(PendingRead* read, void* host_dst) {
  std::string error;
  cudaSetDevice(ctx().device);
  cudaError_t e = cudaEventSynchronize(read->done);
  if (e != cudaSuccess) {
    error = error_message("read", e);
  } else if (host_dst) {
    std::memcpy(host_dst, read->pinned, read->bytes);
  }
  cudaEventDestroy(read->done);
  Staging& s = staging();
  {
    // Keep blocks up to 256 MiB for the next read; give larger ones back at once.
    std::lock_guard<std::mutex> lock(s.mu);
    if (read->capacity <= (size_t(256) << 20) && s.read_blocks.size() < 8)
      s.read_blocks.emplace(read->capacity, read->pinned);
    else
      s.to_free.push_back(read->pinned);
    read->pinned = nullptr;
  }
  delete read;
  return error;
}

// ---- CUDA graphs -----------------------------------------------------------------------------

struct Graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  size_t nodes = 0;
  std::vector<void*> uses;  // blocks allocated or freed while recording (one graph_refs count each)
};

bool capturing() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.capturing;
}

void begin_capture(const char* op) {
  Context& c = ready(op);
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  if (a.capturing)
    throw Error(ErrorKind::Range, std::string(op) + ": a CUDA graph is already being captured (captures do not nest)");
  check(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeRelaxed), op);
  a.capturing = true;
  t_recording = true;
  g_recording.store(true, std::memory_order_release);
}

namespace {
// Ends the recording; the blocks it used go to `uses`, each once and with one graph reference
// taken on it (drop_refs gives them back).
cudaError_t stop_capture(cudaGraph_t* graph, std::vector<void*>& uses) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.capturing = false;
  g_recording.store(false, std::memory_order_release);
  t_recording = false;
  uses.swap(a.capture_uses);
  std::sort(uses.begin(), uses.end());
  uses.erase(std::unique(uses.begin(), uses.end()), uses.end());
  for (void* p : uses) a.graph_refs[p]++;
  return cudaStreamEndCapture(ctx().stream, graph);
}

// Drops the graph reference stop_capture took on each block in `uses`; blocks already freed that
// no graph uses any more go back to the cache.
void drop_refs(const std::vector<void*>& uses) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  for (void* p : uses) {
    auto it = a.graph_refs.find(p);
    if (it != a.graph_refs.end() && --it->second == 0) a.graph_refs.erase(it);
    a.unpark_if_unused_locked(p);
  }
}
}  // namespace

void abort_capture() {
  if (!capturing()) return;
  cudaGraph_t graph = nullptr;
  std::vector<void*> uses;
  stop_capture(&graph, uses);
  cudaGetLastError();
  if (graph) cudaGraphDestroy(graph);
  drop_refs(uses);  // nothing recorded will ever run
}

Graph* end_capture(const char* op) {
  auto* g = new Graph();
  cudaError_t e = stop_capture(&g->graph, g->uses);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&g->exec, g->graph, 0);
  if (e == cudaSuccess) e = cudaGraphGetNodes(g->graph, nullptr, &g->nodes);
  if (e != cudaSuccess) {
    destroy_graph(g);
    check(e, op);
  }
  return g;
}

void launch_graph(Graph* graph, const char* op) {
  Context& c = ready(op);
  refuse_while_capturing(op, "a graph launch");
  check(cudaGraphLaunch(graph->exec, c.stream), op);
}

size_t graph_nodes(const Graph* graph) { return graph ? graph->nodes : 0; }

void destroy_graph(Graph* graph) {
  if (!graph) return;
  // Work already queued may still use the graph's blocks, but everything that reuses them later is
  // queued behind it on the same stream.
  if (graph->exec) cudaGraphExecDestroy(graph->exec);
  if (graph->graph) cudaGraphDestroy(graph->graph);
  cudaGetLastError();
  drop_refs(graph->uses);
  delete graph;
}

void timer_start() {
  Context& c = ready("timer");
  refuse_while_capturing("timer", "timing");
  Timer& t = timer();
  if (!t.start) {
    check(cudaEventCreate(&t.start), "timer");
    check(cudaEventCreate(&t.stop), "timer");
  }
  check(cudaEventRecord(t.start, c.stream), "timer");
}

double timer_stop_ms() {
  Context& c = ready("timer");
  refuse_while_capturing("timer", "timing");
  Timer& t = timer();
  if (!t.start) throw Error(ErrorKind::Range, "timer: timerStop() called before timerStart()");
  check(cudaEventRecord(t.stop, c.stream), "timer");
  check(cudaEventSynchronize(t.stop), "timer");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, t.start, t.stop), "timer");
  return ms;
}

}  // namespace era::cuda_rt
