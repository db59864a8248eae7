// Names the calling thread (at most 15 characters, the kernel's limit; longer names are cut), so
// that `top -H`, `ps -L`, `perf -t`, gdb and /proc/PID/task/*/comm tell idsync's threads apart:
// the store's writer is the one a write-throughput profile looks at (issue #13 item 3).
#pragma once

#include <string_view>

namespace idsync {

// Best effort: a failure leaves the inherited name.
void NameThisThread(std::string_view name);

}  // namespace idsync
