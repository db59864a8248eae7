// UUIDs from the OS CSPRNG: random ones (version 4), and time-ordered ones (version 7) for the
// server-assigned ids of every stored resource.
#pragma once

#include <string>
#include <string_view>

namespace idsync {

// Lower-case canonical text form, e.g. "2819c223-7f76-453a-919d-413861904646". Thread-safe.
std::string NewUuid();
// RFC 9562 version 7: 48 bits of Unix time in milliseconds, then 74 random bits. For the ids the
// store keeps in its indexes (SCIM resources, effective users and groups): ids created together
// sort together, so a batch of creates appends at the right edge of every index keyed by id (the
// mirror's, the effective directory's, the links', the change feed's, the audit's) instead of
// dirtying one random page of each. The id tells when it was made, as meta.created already does;
// its 74 random bits keep it unguessable. Use NewUuid where the leading characters must differ
// between callers at the same moment.
std::string NewOrderedUuid();
bool IsUuid(std::string_view text);

}  // namespace idsync
