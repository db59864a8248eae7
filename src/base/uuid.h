// Random (version 4) UUIDs from the OS CSPRNG; server-assigned ids of every resource.
#pragma once

#include <string>
#include <string_view>

namespace idsync {

// Lower-case canonical text form, e.g. "2819c223-7f76-453a-919d-413861904646". Thread-safe.
std::string NewUuid();
bool IsUuid(std::string_view text);

}  // namespace idsync
