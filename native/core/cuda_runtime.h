// The library's view of the CUDA runtime: device discovery, the library stream, the caching
// allocator, pinned staging for host<->device traffic, and event timers. No CUDA header appears
// here, so the addon and the op layer compile the same with or without CUDA; a CPU-only build links
// cuda_stub.cc, whose functions report that CUDA is absent.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace era::cuda_rt {

struct DeviceInfo {
  bool available = false;
  std::string reason;  // why CUDA is unavailable (empty when available)
  int index = -1;
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  size_t total_memory = 0, free_memory = 0;
  size_t l2_bytes = 0;
  int driver_version = 0, runtime_version = 0;
};

struct AllocatorStats {
  size_t in_use = 0;    // bytes handed out to live tensors (bucket sizes)
  size_t cached = 0;    // bytes held in the cache for reuse
  size_t peak = 0;      // high-water mark of in_use
  int64_t device_allocations = 0;  // cudaMalloc calls made
  int64_t cache_hits = 0;
  size_t pinned_read_cached = 0;  // host bytes of pinned blocks kept for asynchronous reads
};

bool built_with_cuda();
const char* build_architectures();  // e.g. "80-real;90" (empty for CPU builds)

// True when a CUDA device could be initialised (lazily, once).
bool available();
DeviceInfo device_info();
void* stream();  // the library's cudaStream_t

// Throws era::Error(NoDevice) naming `op` when CUDA is unavailable.
void require(const char* op);

// Checks a cudaError_t (passed as int) and turns a failure into era::Error naming `op`.
void check(int status, const char* op);
// After a kernel launch: picks up launch errors.
void check_launch(const char* op);
// Whether a cudaError_t (as int) is a fault that loses the CUDA context (every later call fails
// with it; check() then says so). CUDA builds only: code that sees cudaError_t values.
bool loses_context(int status);

void* device_alloc(size_t bytes, const char* op);
void device_free(void* ptr);
AllocatorStats allocator_stats();
void empty_cache();

// Host -> device through reusable pinned staging buffers; returns before the copy finishes
// (the host source may be reused immediately).
void upload(void* device_dst, const void* host_src, size_t bytes, const char* op);
// Device -> host, synchronous.
void download(void* host_dst, const void* device_src, size_t bytes, const char* op);
// Device -> device on the library stream.
void device_copy(void* dst, const void* src, size_t bytes, const char* op);
void synchronize(const char* op);

// Asynchronous read: begin on the JS thread (orders the copy after all queued work), finish on any
// thread (waits, then copies into host memory). Every begun read must be finished exactly once.
struct PendingRead;
PendingRead* begin_read(const void* device_src, size_t bytes, const char* op);
// Returns an error message, or empty on success (runs off the JS thread: no throwing there).
std::string finish_read(PendingRead* read, void* host_dst);

// CUDA graphs. begin_capture starts recording the library stream (relaxed mode, so the caching
// allocator may still cudaMalloc); kernels queued until end_capture are recorded, not run, and
// replay with one launch_graph each. Blocks allocated or freed while recording are used by the
// graph: once freed, none is handed out again until every graph using it is destroyed (blocks
// from before the recording that it reads are the caller's to keep alive). Host transfers and
// synchronisation cannot be recorded: they throw while a capture is in progress.
struct Graph;
void begin_capture(const char* op);
Graph* end_capture(const char* op);  // on failure the capture is discarded and this throws
void abort_capture();                // discards a capture in progress; never throws
bool capturing();
void launch_graph(Graph* graph, const char* op);
void destroy_graph(Graph* graph);  // never throws
// Nodes (kernels, copies, memsets) recorded in a graph (tests and benches report it).
size_t graph_nodes(const Graph* graph);

// CUDA-event timer on the library stream, for benchmarks.
void timer_start();
double timer_stop_ms();

}  // namespace era::cuda_rt
