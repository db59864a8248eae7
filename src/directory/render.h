// The read-API (SCIM) representation of effective users and groups, shared by the read API, the
// admin API and the change feed, so that a change-feed consumer rebuilds exactly what
// GET /directory/v2/{directory}/Users returns.
//
// EffectiveUserRow.body (written by DirectoryService, read here):
//   {"attributes": {"<name>": {"value": <json>, "source": "<path or template>",
//                              "rule": "<policy field>", "origin": <index into origins>,
//                              "stamp": <index into stamps>}},
//    "origins": [{"connection": "<connection uuid>", "connection_name": "...",
//                 "source_user": "<mirror id>"}],
//    "stamps": [{"request_id": "<request that set it>", "time": "<RFC 3339>"}],
//    "memberships": [{"group": "<local name>", "group_id": "<effective group id>",
//                     "grants": [{"rule": "on_the_fly|manual|default_new|default_all|existing",
//                                 "connection": "<uuid or empty>", "source_group": "...",
//                                 "detail": "<policy field>"}],
//                     "stamp": <index into stamps>}],
//    "entitlements": [{"value": "...", "group": "<local name>"}],
//    "state_reason": "...", "warnings": ["..."]}
// Bodies written before the shared provenance (2026-12-07) carry connection, connection_name and
// source_user, request_id and time inline in each entry instead of "origin" and "stamp";
// stored_user.h reads both, and WithInlineProvenance gives the inline form `explain` shows.
// EffectiveGroupRow.body: {"entitlements": ["..."]} (what membership grants).
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "store/store.h"

namespace idsync::directory {

// idsync's own SCIM extension schemas: custom attributes live under the user one.
inline constexpr std::string_view kUserExtensionUrn = "urn:idsync:params:scim:schemas:extension:2.0:User";
inline constexpr std::string_view kGroupExtensionUrn = "urn:idsync:params:scim:schemas:extension:2.0:Group";

// SCIM User without "groups" and "meta":
//   {"schemas": [core User, kUserExtensionUrn], "id", "userName", "displayName",
//    "name": {"givenName", "familyName"}, "emails": [{"value", "primary": true}],
//    "active": state == "active", "entitlements": [{"value", "display": "<granting group>"}],
//    kUserExtensionUrn: {<custom attribute>: value, ...}}
// Absent values are left out (and empty objects with them).
Json RenderUserCore(const store::EffectiveUserRow& row);
// RenderUserCore(a) == RenderUserCore(b), without rendering either: the writer asks it of every
// changed user, to leave the change feed alone when only provenance changed.
bool SameUserCore(const store::EffectiveUserRow& a, const store::EffectiveUserRow& b);

// SCIM Group without "members" and "meta": {"schemas": [core Group, kGroupExtensionUrn], "id",
// "displayName", kGroupExtensionUrn: {"entitlements": [...]}} (extension only if non-empty).
Json RenderGroupCore(const store::EffectiveGroupRow& row);

// meta for the read API: {"resourceType", "created", "lastModified", "version": W/"n",
// "location": base_url + "/Users/" + id} (base_url e.g. "https://host/directory/v2/users").
Json RenderMeta(std::string_view resource_type, const std::string& id, int64_t version,
                TimePoint created, TimePoint last_modified, const std::string& base_url);

}  // namespace idsync::directory
