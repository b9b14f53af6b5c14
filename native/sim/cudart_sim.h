// The simulator's CUDA runtime (cudart_sim.cc): device memory, streams, events and graphs live in
// host memory and all work runs synchronously on the calling thread. Kernel launches enter it here.
#pragma once
#include <cuda_runtime.h>

#include <functional>

namespace era_sim {

// Runs `work` now, or, if `stream` is capturing, appends it to that capture's graph as one node
// (run again at each cudaGraphLaunch). Failures (bad handle, invalidated capture, legacy-stream
// work while a blocking stream captures) are recorded with record_error and `work` is dropped.
// Exceptions thrown by `work` pass through to the caller.
void submit(cudaStream_t stream, std::function<void()> work);

// The "last error" that cudaGetLastError/cudaPeekAtLastError report: the first error recorded
// since it was last read is kept. Failing runtime calls record theirs here too, as cudart does.
void record_error(cudaError_t e);

// The cudaFuncAttributeMaxDynamicSharedMemorySize value last set for `func`; 0 if never set (the
// 48 KiB default applies). Lets a launcher refuse what real CUDA refuses without the opt-in.
int max_dynamic_shared_memory(const void* func);

// How many devices a CUDA_VISIBLE_DEVICES value leaves of the simulator's one (device 0): 1 when
// the variable is unset (null) or its list starts with 0, else 0 (an empty list, or one that
// starts with anything else, hides it, as the CUDA runtime reads the list). cudaGetDeviceCount
// then reports cudaErrorNoDevice, so the no-device paths can be tested with the simulator too.
int visible_devices(const char* cuda_visible_devices);

}  // namespace era_sim
