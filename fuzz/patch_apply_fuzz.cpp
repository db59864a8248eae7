// libFuzzer target for the PATCH engine. Input: raw bytes taken as a PatchOp body, applied to a
// fixed user, a fixed group with members in its JSON, and the same group with a MemberStore.
// Property: rejecting input is fine; crashing is not, and neither is a success whose result
// fails CheckComplete, changes "id" or "meta", leaves "members" in the JSON of a group whose
// members live in a MemberStore, or differs when the same patch is applied again.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "scim/patch/apply.h"
#include "scim/resource/validate.h"

namespace {

using idsync::Json;
using idsync::Result;
using idsync::Status;
using idsync::scim::ResourceType;
namespace patch = idsync::scim::patch;

const Json& SampleUser() {
  static const Json user = Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "bjensen",
    "meta": {"resourceType": "User", "created": "2024-01-23T04:56:22Z",
             "lastModified": "2024-05-13T04:42:34Z", "version": "W/\"a330bc54f0671c9\""},
    "userName": "bjensen@example.com",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "active": true,
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
               {"value": "babs@jensen.org", "type": "home"}],
    "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984", "department": "Tour Operations",
      "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}
  })");
  return user;
}

const Json& SampleGroup() {
  static const Json group = Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "meta": {"resourceType": "Group", "created": "2024-01-23T04:56:22Z",
             "lastModified": "2024-05-13T04:42:34Z", "version": "W/\"3694e05e9dff592\""},
    "displayName": "Tour Guides",
    "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy"}]
  })");
  return group;
}

class VectorMemberStore : public patch::MemberStore {
 public:
  explicit VectorMemberStore(const Json& members) : members_(members.begin(), members.end()) {}
  Status Add(const Json& member) override {
    if (!member.is_object() || !member.contains("value") || !member["value"].is_string()) {
      return idsync::Error{idsync::ErrorCode::kInvalidValue, "member without value"};
    }
    for (const Json& m : members_) {
      if (m["value"] == member["value"]) return {};
    }
    members_.push_back(member);
    return {};
  }
  Result<bool> Remove(const std::string& value) override {
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&](const Json& m) { return m["value"] == value; });
    if (it == members_.end()) return false;
    members_.erase(it);
    return true;
  }
  Status Clear() override {
    members_.clear();
    return {};
  }
  Result<std::vector<Json>> All() override { return members_; }

 private:
  std::vector<Json> members_;
};

void Check(const Json& resource, const Json& body, ResourceType type, patch::MemberStore* members) {
  const auto& registry = idsync::scim::schema::Registry::Default();
  patch::PatchOptions options;
  options.members = members;
  auto result = patch::ApplyPatch(resource, body, type, registry, options);
  if (!result) return;
  if (!result->is_object()) __builtin_trap();
  if (!idsync::scim::resource::CheckComplete(*result, type, registry)) __builtin_trap();
  if ((*result)["id"] != resource["id"] || (*result)["meta"] != resource["meta"]) {
    __builtin_trap();
  }
  if (members != nullptr && result->contains("members")) __builtin_trap();
  if (members == nullptr) {  // pure: the same input gives the same output
    auto again = patch::ApplyPatch(resource, body, type, registry, options);
    if (!again || *again != *result) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = idsync::ParseJsonStrict(text);
  if (!body) return 0;
  Check(SampleUser(), *body, ResourceType::kUser, nullptr);
  Check(SampleGroup(), *body, ResourceType::kGroup, nullptr);
  Json stored_group = SampleGroup();
  VectorMemberStore store(stored_group["members"]);
  stored_group.erase("members");
  Check(stored_group, *body, ResourceType::kGroup, &store);
  return 0;
}
