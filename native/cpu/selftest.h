// The tally shared by the native self-tests (*_selftest.cc): check() counts and prints failures,
// selftest_summary() prints the "N passed, N failed" line test/cpu-threads.test.ts looks for and
// gives main's exit status.
#pragma once
#include <cstdio>
#include <string>

namespace era::selftest {

struct Tally {
  int passed = 0, failed = 0;
};

inline Tally& tally() {
  static Tally t;
  return t;
}

inline void check(bool ok, const std::string& what) {
  if (ok) {
    ++tally().passed;
  } else {
    ++tally().failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

inline int summary() {
  std::printf("%d passed, %d failed\n", tally().passed, tally().failed);
  return tally().failed == 0 ? 0 : 1;
}

}  // namespace era::selftest
