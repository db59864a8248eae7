#include <cstdio>
#include <cstdlib>

#include "base/result.h"

namespace idsync::internal {

void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "idsync: internal check failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

}  // namespace idsync::internal
