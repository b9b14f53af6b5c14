// The one error type that crosses every native layer. The addon turns it into the matching JS
// error class (TypeError, RangeError, EraError); nothing in native code exits or aborts.
#pragma once
#include <stdexcept>
#include <string>

namespace era {

enum class ErrorKind {
  Type,         // wrong type, dtype or device for an argument -> TypeError
  Range,        // wrong length, shape or value -> RangeError
  Disposed,     // a tensor or object used after dispose() -> EraError (code ERA_DISPOSED)
  Cuda,         // a CUDA runtime failure -> EraError (code ERA_CUDA_ERROR)
  OutOfMemory,  // an allocation failed on the device or host -> EraError (code ERA_OUT_OF_MEMORY)
  NoDevice,     // CUDA asked for where there is none -> EraError (code ERA_NO_DEVICE)
  Internal,     // a bug in era-cuda -> EraError (code ERA_INTERNAL)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// The message format shared with lib/validate.ts: "Expected <what> for <name> but received <got>".
inline std::string expected_message(const std::string& what, const std::string& name,
                                    const std::string& got) {
  return "Expected " + what + " for " + name + " but received " + got;
}

[[noreturn]] inline void throw_type(const std::string& what, const std::string& name,
                                    const std::string& got) {
  throw Error(ErrorKind::Type, expected_message(what, name, got));
}

[[noreturn]] inline void throw_range(const std::string& what, const std::string& name,
                                     const std::string& got) {
  throw Error(ErrorKind::Range, expected_message(what, name, got));
}

}  // namespace era
