// libFuzzer: resource validation from raw bytes. Rejecting input is fine; crashing is not, and
// a body that validates must validate again unchanged (normalisation is idempotent).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json.h"
#include "scim/resource/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idsync;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = ParseJsonStrict(text);
  if (!json) return 0;
  const auto& registry = scim::schema::Registry::Default();
  for (auto type : {scim::ResourceType::kUser, scim::ResourceType::kGroup}) {
    auto once = scim::resource::Normalize(*json, type, scim::resource::WriteMode::kCreate, registry);
    if (!once) continue;
    auto twice = scim::resource::Normalize(*once, type, scim::resource::WriteMode::kCreate, registry);
    if (!twice || *twice != *once) __builtin_trap();
  }
  return 0;
}
