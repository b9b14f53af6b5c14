// The CPU-only build's CUDA runtime: every entry reports that CUDA was not compiled in.
#include "cuda_runtime.h"
#include "error.h"

namespace era::cuda_rt {

namespace {
const char* kReason =
    "era-cuda was built without CUDA (no nvcc at build time); install the CUDA toolkit and "
    "rebuild with `npm run build:native`";
[[noreturn]] void no_cuda(const char* op) {
  throw Error(ErrorKind::NoDevice, std::string(op) + ": " + kReason);
}
}  // namespace

bool built_with_cuda() { return false; }
const char* build_architectures() { return ""; }
bool available() { return false; }
DeviceInfo device_info() {
  DeviceInfo info;
  info.reason = kReason;
  return info;
}
void* stream() { return nullptr; }
void require(const char* op) { no_cuda(op); }
void check(int status, const char* op) {
  if (status != 0) no_cuda(op);
}
void check_launch(const char* op) { no_cuda(op); }
void* device_alloc(size_t, const char* op) { no_cuda(op); }
void device_free(void*) {}
AllocatorStats allocator_stats() { return {}; }
void empty_cache() {}
void upload(void*, const void*, size_t, const char* op) { no_cuda(op); }
void download(void*, const void*, size_t, const char* op) { no_cuda(op); }
void device_copy(void*, const void*, size_t, const char* op) { no_cuda(op); }
void synchronize(const char*) {}
PendingRead* begin_read(const void*, size_t, const char* op) { no_cuda(op); }
std::string finish_read(PendingRead*, void*) { return kReason; }
void begin_capture(const char* op) { no_cuda(op); }
Graph* end_capture(const char* op) { no_cuda(op); }
void abort_capture() {}
bool capturing() { return false; }
void launch_graph(Graph*, const char* op) { no_cuda(op); }
void destroy_graph(Graph*) {}
size_t graph_nodes(const Graph*) { return 0; }
void timer_start() { no_cuda("timer"); }
double timer_stop_ms() { no_cuda("timer"); }

}  // namespace era::cuda_rt
