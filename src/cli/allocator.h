// The process's memory allocator: which one the binary was linked with, how it is set up for
// `serve`, and handing free memory back to the system (see ARCHITECTURE.md, "Allocator").
#pragma once

#include <string>
#include <utility>

namespace idsync::cli {

// The allocator and its version, for `idsync version`: {"tcmalloc", "2.10"} when the binary
// links gperftools' tcmalloc_minimal (the release build), {"glibc", "2.36"} otherwise
// (sanitizer and fuzz builds, whose runtimes replace malloc with their own).
std::pair<std::string, std::string> AllocatorVersion();

// Called once by `serve` before any thread starts.
void ConfigureAllocator();

// Returns free pages the allocator holds to the system; `serve` calls it every few seconds.
void ReleaseFreeMemory();

}  // namespace idsync::cli
