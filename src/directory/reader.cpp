#include "directory/reader.h"

#include <algorithm>
#include <utility>

#include "base/strings.h"
#include "directory/render.h"
#include "scim/filter/evaluate.h"
#include "scim/filter/parser.h"
#include "scim/query/etag.h"
#include "scim/query/plan.h"
#include "scim/query/projection.h"
#include "scim/query/sort.h"

namespace idsync::directory {

using scim::ResourceType;
using scim::query::IndexPlan;
using scim::query::Mentions;
using scim::query::PlanIndex;
using scim::query::VersionETag;
namespace filter = scim::filter;

namespace {

Status AddGroups(store::Transaction& tx, const std::string& directory, const std::string& user_id,
                 const std::string& base_url, Json& out) {
  auto groups = tx.EffectiveGroupsOf(directory, user_id);
  if (!groups) return groups.error();
  if (groups->empty()) return Status::Ok();
  Json list = Json::array();
  for (const auto& [id, name] : *groups) {
    // RFC 7643 §4.1.2: memberships are direct; idsync's groups hold users only.
    list.push_back({{"value", id},
                    {"display", name},
                    {"$ref", base_url + "/Groups/" + id},
                    {"type", "direct"}});
  }
  out["groups"] = std::move(list);
  return Status::Ok();
}

Status AddMembers(store::Transaction& tx, const std::string& directory, const std::string& group_id,
                  const std::string& base_url, Json& out) {
  auto members = tx.ListEffectiveMembers(directory, group_id);
  if (!members) return members.error();
  if (members->empty()) return Status::Ok();
  Json list = Json::array();
  for (const std::string& id : *members) {
    list.push_back({{"value", id}, {"$ref", base_url + "/Users/" + id}, {"type", "User"}});
  }
  out["members"] = std::move(list);
  return Status::Ok();
}

Result<Json> RenderUser(store::Transaction& tx, const store::EffectiveUserRow& row,
                        const std::string& base_url, bool with_groups) {
  Json j = RenderUserCore(row);
  if (with_groups) {
    if (Status s = AddGroups(tx, row.directory, row.id, base_url, j); !s) return s.error();
  }
  j["meta"] = RenderMeta("User", row.id, row.version, row.created, row.last_modified, base_url);
  return j;
}

Result<Json> RenderGroup(store::Transaction& tx, const store::EffectiveGroupRow& row,
                         const std::string& base_url, bool with_members) {
  Json j = RenderGroupCore(row);
  if (with_members) {
    if (Status s = AddMembers(tx, row.directory, row.id, base_url, j); !s) return s.error();
  }
  j["meta"] = RenderMeta("Group", row.id, row.version, row.created, row.last_modified, base_url);
  return j;
}

Error NoSuch(ResourceType type, const std::string& directory, const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(type == ResourceType::kUser ? "user" : "group") + " " + id +
                       " not found in directory \"" + directory + "\"");
}

Error NoSuchDirectory(const std::string& directory) {
  return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
}

// Reads the directory record; kNotFound worded for the client.
Result<store::DirectoryRecord> ReadDirectory(store::Transaction& tx, const std::string& name) {
  auto d = tx.GetDirectory(name);
  if (!d && d.error().code == ErrorCode::kNotFound) return NoSuchDirectory(name);
  return d;
}

bool IsIdentity(const ReadProjection& p) {
  return p.attributes.empty() && p.excluded_attributes.empty();
}

struct Matched {
  Json json;
  std::string id;
};

}  // namespace

DirectoryReader::DirectoryReader(store::Store& store, service::ScimLimits limits)
    : store_(store), limits_(limits) {}

Json DirectoryReader::UserExtensionSchema(const Json& custom_attributes) {
  Json attrs = Json::array();
  if (custom_attributes.is_array()) {
    for (const Json& def : custom_attributes) {
      // The policy layer validated these when they were set (policy::ParseCustomAttributeDefs);
      // anything else in the row is skipped rather than failing every read of the directory.
      if (!def.is_object() || !def.contains("name") || !def["name"].is_string()) continue;
      std::string name = def["name"].get<std::string>();
      if (name.empty() || name.find_first_of(":.[]\" ") != std::string::npos) continue;
      std::string type = def.value("type", "string");
      if (type != "string" && type != "boolean" && type != "integer" && type != "dateTime") {
        continue;
      }
      bool multi = def.contains("multi_valued") && def["multi_valued"].is_boolean() &&
                   def["multi_valued"].get<bool>();
      attrs.push_back({{"name", name},
                       {"type", type},
                       {"multiValued", multi},
                       {"description", "custom attribute of this directory"},
                       {"required", false},
                       {"caseExact", false},
                       {"mutability", "readOnly"},
                       {"returned", "default"},
                       {"uniqueness", "none"}});
    }
  }
  return {{"id", std::string(kUserExtensionUrn)},
          {"name", "idsync User"},
          {"description", "idsync effective user: the directory's custom attributes"},
          {"attributes", std::move(attrs)}};
}

Json DirectoryReader::GroupExtensionSchema() {
  return {{"id", std::string(kGroupExtensionUrn)},
          {"name", "idsync Group"},
          {"description", "idsync effective group"},
          {"attributes",
           Json::array({{{"name", "entitlements"},
                         {"type", "string"},
                         {"multiValued", true},
                         {"description", "entitlements that membership of this group grants"},
                         {"caseExact", true},
                         {"mutability", "readOnly"}}})}};
}

Result<std::shared_ptr<const scim::schema::Registry>> DirectoryReader::RegistryOf(
    const store::DirectoryRecord& record) {
  {
    std::lock_guard lock(mutex_);
    auto it = registries_.find(record.name);
    if (it != registries_.end() && it->second.version == record.version) {
      return it->second.registry;
    }
  }
  // Built outside the lock: a race builds the same registry twice, which is harmless.
  auto built = scim::schema::Registry::WithExtensions(
      {UserExtensionSchema(record.custom_attributes)}, {GroupExtensionSchema()});
  if (!built) {
    return MakeError(ErrorCode::kInternal, "custom attributes of directory \"" + record.name +
                                               "\" are not usable: " + built.error().detail);
  }
  std::shared_ptr<const scim::schema::Registry> registry = std::move(*built);
  std::lock_guard lock(mutex_);
  Cached& c = registries_[record.name];
  if (record.version >= c.version) c = Cached{record.version, registry};
  return registry;
}

Result<std::shared_ptr<const scim::schema::Registry>> DirectoryReader::RegistryFor(
    const std::string& directory) {
  std::optional<store::DirectoryRecord> record;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto d = ReadDirectory(tx, directory);
    if (!d) return d.error();
    record = std::move(*d);
    return Status::Ok();
  });
  if (!st) return st.error();
  return RegistryOf(*record);
}

Result<ReadResult> DirectoryReader::GetUser(const std::string& directory, const std::string& id,
                                            const std::string& base_url,
                                            const ReadProjection& projection) {
  ReadResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto d = ReadDirectory(tx, directory);
    if (!d) return d.error();
    auto registry = RegistryOf(*d);
    if (!registry) return registry.error();
    auto proj = scim::query::Projection::Parse(ResourceType::kUser, projection.attributes,
                                               projection.excluded_attributes, **registry);
    if (!proj) return proj.error();
    auto row = tx.GetEffectiveUser(directory, id);
    if (!row) {
      return row.error().code == ErrorCode::kNotFound ? NoSuch(ResourceType::kUser, directory, id)
                                                      : row.error();
    }
    auto json = RenderUser(tx, *row, base_url, proj->IncludesAttribute("groups"));
    if (!json) return json.error();
    out.resource = IsIdentity(projection) ? std::move(*json) : proj->Apply(*json);
    out.etag = VersionETag(row->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<ReadResult> DirectoryReader::GetGroup(const std::string& directory, const std::string& id,
                                             const std::string& base_url,
                                             const ReadProjection& projection) {
  ReadResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto d = ReadDirectory(tx, directory);
    if (!d) return d.error();
    auto registry = RegistryOf(*d);
    if (!registry) return registry.error();
    auto proj = scim::query::Projection::Parse(ResourceType::kGroup, projection.attributes,
                                               projection.excluded_attributes, **registry);
    if (!proj) return proj.error();
    auto row = tx.GetEffectiveGroup(directory, id);
    if (!row) {
      return row.error().code == ErrorCode::kNotFound ? NoSuch(ResourceType::kGroup, directory, id)
                                                      : row.error();
    }
    auto json = RenderGroup(tx, *row, base_url, proj->IncludesAttribute("members"));
    if (!json) return json.error();
    out.resource = IsIdentity(projection) ? std::move(*json) : proj->Apply(*json);
    out.etag = VersionETag(row->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<service::ListResult> DirectoryReader::ListUsers(const std::string& directory,
                                                       const service::ListRequest& request,
                                                       const std::string& base_url,
                                                       const ReadProjection& projection) {
  return List(ResourceType::kUser, directory, request, base_url, projection);
}

Result<service::ListResult> DirectoryReader::ListGroups(const std::string& directory,
                                                        const service::ListRequest& request,
                                                        const std::string& base_url,
                                                        const ReadProjection& projection) {
  return List(ResourceType::kGroup, directory, request, base_url, projection);
}

Result<service::ListResult> DirectoryReader::List(ResourceType type, const std::string& directory,
                                                  const service::ListRequest& request,
                                                  const std::string& base_url,
                                                  const ReadProjection& projection) {
  const bool is_user = type == ResourceType::kUser;
  // The page "relation" this type can load lazily: groups of a user, members of a group.
  const std::string_view relation = is_user ? "groups" : "members";
  int64_t start = std::max<int64_t>(1, request.start_index);
  int64_t count = scim::query::PageSize(request.count, limits_.max_results);
  service::ListResult out;
  out.start_index = start;

  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto d = ReadDirectory(tx, directory);
    if (!d) return d.error();
    auto registry_ptr = RegistryOf(*d);
    if (!registry_ptr) return registry_ptr.error();
    const scim::schema::Registry& registry = **registry_ptr;
    auto proj = scim::query::Projection::Parse(type, projection.attributes,
                                               projection.excluded_attributes, registry);
    if (!proj) return proj.error();
    const bool include_relation = proj->IncludesAttribute(relation);
    const bool identity = IsIdentity(projection);

    filter::NodePtr ast;
    if (request.filter) {
      filter::ParseLimits pl;
      pl.max_length = limits_.max_filter_length;
      pl.max_depth = limits_.max_filter_depth;
      auto parsed = filter::Parse(*request.filter, pl);
      if (!parsed) return parsed.error();
      if (Status s = filter::Validate(**parsed, type, registry); !s) return s;
      ast = std::move(*parsed);
    }
    std::optional<scim::schema::ResolvedAttribute> sort;
    if (request.sort_by) {
      auto r = registry.ResolveDotted(type, *request.sort_by);
      if (!r) {
        return MakeError(ErrorCode::kInvalidValue,
                         "sortBy \"" + *request.sort_by + "\" is not an attribute of " +
                             std::string(scim::ResourceTypeName(type)) + ": " + r.error().detail);
      }
      sort = *r;
    }
    auto emit = [&](Json json) {
      out.resources.push_back(identity ? std::move(json) : proj->Apply(json));
    };

    if (!ast && !sort) {
      // Unfiltered and unsorted: the page comes straight from the store, in creation order.
      auto total = is_user ? tx.CountEffectiveUsers(directory) : tx.CountEffectiveGroups(directory);
      if (!total) return total.error();
      out.total_results = *total;
      if (count == 0) return Status::Ok();
      if (is_user) {
        auto page = tx.ListEffectiveUsers(directory, start - 1, count);
        if (!page) return page.error();
        for (const auto& row : *page) {
          auto json = RenderUser(tx, row, base_url, include_relation);
          if (!json) return json.error();
          emit(std::move(*json));
        }
      } else {
        auto page = tx.ListEffectiveGroups(directory, start - 1, count);
        if (!page) return page.error();
        for (const auto& row : *page) {
          auto json = RenderGroup(tx, row, base_url, include_relation);
          if (!json) return json.error();
          emit(std::move(*json));
        }
      }
      return Status::Ok();
    }

    // Filtered and/or sorted: evaluate in memory over candidates (an index narrows them when the
    // filter allows). Groups/members are loaded for every candidate only when the filter or the
    // sort key needs them; otherwise only for the page.
    const bool need_relation =
        (ast && Mentions(*ast, relation)) ||
        (sort && EqualsIgnoreAsciiCase(sort->attr->name, relation) && !sort->in_extension);
    std::vector<Matched> matched;
    Status inner = Status::Ok();
    auto consider_json = [&](Result<Json> json, const std::string& id) {
      if (!json) {
        inner = json.error();
        return false;
      }
      if (!ast || filter::Matches(*ast, *json, type, registry)) {
        matched.push_back({std::move(*json), id});
      }
      return true;
    };
    auto consider_user = [&](const store::EffectiveUserRow& row) {
      return consider_json(RenderUser(tx, row, base_url, need_relation), row.id);
    };
    auto consider_group = [&](const store::EffectiveGroupRow& row) {
      return consider_json(RenderGroup(tx, row, base_url, need_relation), row.id);
    };

    std::optional<IndexPlan> plan =
        ast ? PlanIndex(*ast, type, scim::query::kEffectiveIndexes) : std::nullopt;
    if (plan) {
      if (is_user) {
        auto row = plan->attr == "id" ? tx.GetEffectiveUser(directory, plan->value)
                                      : tx.FindEffectiveUserByUsername(directory, plan->value);
        if (row) {
          consider_user(*row);
        } else if (row.error().code != ErrorCode::kNotFound) {
          return row.error();
        }
      } else {
        auto row = plan->attr == "id" ? tx.GetEffectiveGroup(directory, plan->value)
                                      : tx.FindEffectiveGroupByName(directory, plan->value);
        if (row) {
          consider_group(*row);
        } else if (row.error().code != ErrorCode::kNotFound) {
          return row.error();
        }
      }
    } else {
      size_t scanned = 0;
      auto over_cap = [&]() {
        if (++scanned <= limits_.max_scan_resources) return false;
        inner =
            MakeError(ErrorCode::kTooMany,
                      std::string("the filter would scan too many resources; add a condition ") +
                          (is_user ? "userName eq \"...\"" : "displayName eq \"...\""));
        return true;
      };
      Status scan =
          is_user ? tx.ScanEffectiveUsers(directory,
                                          [&](const store::EffectiveUserRow& row) {
                                            return !over_cap() && consider_user(row);
                                          })
                  : tx.ScanEffectiveGroups(directory, [&](const store::EffectiveGroupRow& row) {
                      return !over_cap() && consider_group(row);
                    });
      if (!scan) return scan;
    }
    if (!inner) return inner;

    if (sort) scim::query::SortResources(matched, *sort, request.descending);
    out.total_results = static_cast<int64_t>(matched.size());
    for (int64_t i = start - 1; i < out.total_results && i < start - 1 + count; ++i) {
      Matched& m = matched[static_cast<size_t>(i)];
      if (include_relation && !need_relation) {
        Status s = is_user ? AddGroups(tx, directory, m.id, base_url, m.json)
                           : AddMembers(tx, directory, m.id, base_url, m.json);
        if (!s) return s;
      }
      emit(std::move(m.json));
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

}  // namespace idsync::directory
