// ScimService reads: one resource by id (parsed or as stored text), and list queries with
// filters planned onto the store's index.
#include <algorithm>

#include "base/strings.h"
#include "scim/filter/evaluate.h"
#include "scim/filter/parser.h"
#include "scim/query/plan.h"
#include "scim/query/sort.h"
#include "scim/resource/validate.h"
#include "service/scim_service.h"
#include "service/scim_service_internal.h"

namespace idsync::service {

using scim::ResourceType;
using scim::query::IndexPlan;
using scim::query::Mentions;
using scim::query::PlanIndex;
namespace filter = scim::filter;

namespace {

// The index plan of a filter whose result the index alone decides: the whole filter is one
// `attr eq "value"` on a singular, caseExact=false string attribute whose index entry is the
// folded value (userName, Group displayName). The evaluator then compares FoldCase(stored)
// with FoldCase(value), which is exactly the index lookup, so the in-memory evaluation can be
// skipped. externalId (caseExact: the folded index is a superset), emails (multi-valued, with
// the `emails eq` shorthand) and id do not qualify.
std::optional<IndexPlan> ExactIndexPlan(const filter::Node& n, ResourceType type,
                                        const scim::schema::Registry& registry) {
  if (n.kind != filter::Node::Kind::kCompare) return std::nullopt;
  auto plan = PlanIndex(n, type);
  if (!plan) return std::nullopt;
  bool folded_singular = (type == ResourceType::kUser && plan->attr == "userName") ||
                         (type == ResourceType::kGroup && plan->attr == "displayName");
  if (!folded_singular) return std::nullopt;
  auto resolved = registry.Resolve(type, n.path.urn, n.path.attr, n.path.sub);
  if (!resolved || resolved->in_extension) return std::nullopt;
  const auto& attr = resolved->target();
  if (attr.type != scim::schema::Type::kString || attr.case_exact || attr.multi_valued) {
    return std::nullopt;
  }
  return plan;
}

struct Candidate {
  Json json;
  int64_t order;
};

// Joins the server-owned part (id, meta, members/groups) with a stored body's text. The stored
// body never holds server-owned keys, so the two objects have no key in common.
std::string Splice(const Json& server_part, const std::string& body_text) {
  std::string out = DumpJson(server_part);
  if (body_text.size() > 2 && body_text.front() == '{' && body_text.back() == '}') {
    out.back() = ',';
    out.append(body_text, 1, std::string::npos);
  }
  return out;
}

// The full text of a resource read as stored text: the rendered server-owned part joined with
// the body. Takes the body out of `r`.
Result<std::string> RenderText(store::Transaction& tx, const CallContext& ctx, ResourceType type,
                               store::StoredResource& r, bool include_members,
                               bool include_groups) {
  std::string body = std::move(r.body_text);
  r.body = Json::object();
  auto extra = Render(tx, ctx, type, r, include_members, include_groups);
  if (!extra) return extra.error();
  return Splice(*extra, body);
}

}  // namespace

Result<WriteResult> ScimService::Get(const CallContext& ctx, ResourceType type,
                                     const std::string& id, bool include_members,
                                     bool include_groups) {
  WriteResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto r = tx.GetResource(ctx.connection->id, type, id);
    if (!r) {
      if (r.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
      }
      return r.error();
    }
    auto json = Render(tx, ctx, type, *r, include_members, include_groups);
    if (!json) return json.error();
    out.resource = std::move(*json);
    out.etag = VersionETag(r->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}
Result<ScimService::TextResult> ScimService::GetText(const CallContext& ctx, ResourceType type,
                                                     const std::string& id, bool include_members,
                                                     bool include_groups) {
  TextResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto r = tx.GetResourceText(ctx.connection->id, type, id);
    if (!r) {
      if (r.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
      }
      return r.error();
    }
    // Server-owned parts (id, meta, members, groups) are never in the stored body, so the two
    // objects have no key in common and can be joined as text.
    auto text = RenderText(tx, ctx, type, *r, include_members, include_groups);
    if (!text) return text.error();
    out.json = std::move(*text);
    out.etag = VersionETag(r->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}
Result<ListResult> ScimService::List(const CallContext& ctx, ResourceType type,
                                     const ListRequest& request) {
  filter::NodePtr ast;
  if (request.filter) {
    filter::ParseLimits pl;
    pl.max_length = limits_.max_filter_length;
    pl.max_depth = limits_.max_filter_depth;
    auto parsed = filter::Parse(*request.filter, pl);
    if (!parsed) return parsed.error();
    if (Status s = filter::Validate(**parsed, type, registry_); !s) return s.error();
    ast = std::move(*parsed);
  }
  std::optional<scim::schema::ResolvedAttribute> sort;
  if (request.sort_by) {
    auto r = registry_.ResolveDotted(type, *request.sort_by);
    if (!r) {
      return MakeError(ErrorCode::kInvalidValue, "sortBy \"" + *request.sort_by +
                                                     "\" is not an attribute of " +
                                                     std::string(scim::ResourceTypeName(type)));
    }
    sort = *r;
  }
  int64_t start = std::max<int64_t>(1, request.start_index);
  int64_t count = scim::query::PageSize(request.count, limits_.max_results);
  ListResult out;
  out.start_index = start;
  const int64_t conn = ctx.connection->id;

  // Resources decided by the index alone are sent as stored text, like unfiltered pages.
  std::optional<IndexPlan> exact;
  if (ast && !sort && request.as_text) exact = ExactIndexPlan(*ast, type, registry_);

  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    if (exact) {
      auto rows = tx.FindByIndexText(conn, type, exact->attr, exact->value);
      if (!rows) return rows.error();
      out.total_results = static_cast<int64_t>(rows->size());
      for (int64_t i = start - 1; i < out.total_results && i < start - 1 + count; ++i) {
        auto text =
            RenderText(tx, ctx, type, (*rows)[i], request.include_members, request.include_groups);
        if (!text) return text.error();
        out.texts.push_back(std::move(*text));
      }
      return Status::Ok();
    }
    if (!ast && !sort) {
      // No filter and no sort: page straight from the store in creation order.
      auto total = tx.CountResources(conn, type);
      if (!total) return total.error();
      out.total_results = *total;
      if (count == 0) return Status::Ok();
      if (request.as_text) {
        auto page = tx.ListResourcesText(conn, type, start - 1, count);
        if (!page) return page.error();
        out.texts.reserve(page->size());
        for (auto& r : *page) {
          auto text = RenderText(tx, ctx, type, r, request.include_members, request.include_groups);
          if (!text) return text.error();
          out.texts.push_back(std::move(*text));
        }
        return Status::Ok();
      }
      auto page = tx.ListResources(conn, type, start - 1, count);
      if (!page) return page.error();
      out.resources.reserve(page->size());
      for (const auto& r : *page) {
        auto json = Render(tx, ctx, type, r, request.include_members, request.include_groups);
        if (!json) return json.error();
        out.resources.push_back(std::move(*json));
      }
      return Status::Ok();
    }
    // Filter (and/or sort) in memory over candidates; an index narrows them when it can.
    bool need_members = ast && type == ResourceType::kGroup && Mentions(*ast, "members");
    bool need_groups = ast && type == ResourceType::kUser && Mentions(*ast, "groups");
    std::vector<Candidate> matched;
    int64_t order = 0;
    Status inner = Status::Ok();
    auto consider = [&](const store::StoredResource& r) -> bool {
      auto json = Render(tx, ctx, type, r, need_members, need_groups);
      if (!json) {
        inner = json.error();
        return false;
      }
      if (!ast || filter::Matches(*ast, *json, type, registry_)) {
        matched.push_back({std::move(*json), order});
      }
      ++order;
      return true;
    };
    std::optional<IndexPlan> plan = ast ? PlanIndex(*ast, type) : std::nullopt;
    if (plan && plan->attr == "id") {
      auto r = tx.GetResource(conn, type, plan->value);
      if (r) {
        consider(*r);
      } else if (r.error().code != ErrorCode::kNotFound) {
        return r.error();
      }
    } else if (plan) {
      auto rows = tx.FindByIndex(conn, type, plan->attr, plan->value);
      if (!rows) return rows.error();
      for (const auto& r : *rows) {
        if (!consider(r)) break;
      }
    } else {
      int64_t scanned = 0;
      Status scan = tx.ScanResources(conn, type, [&](const store::StoredResource& r) {
        if (++scanned > static_cast<int64_t>(limits_.max_scan_resources)) {
          inner = MakeError(ErrorCode::kTooMany,
                            "the filter would scan too many resources; add a condition on "
                            "userName, externalId, displayName or emails.value");
          return false;
        }
        return consider(r);
      });
      if (!scan) return scan;
    }
    if (!inner) return inner;
    if (sort) scim::query::SortResources(matched, *sort, request.descending);
    out.total_results = static_cast<int64_t>(matched.size());
    for (int64_t i = start - 1; i < out.total_results && i < start - 1 + count; ++i) {
      Json& j = matched[i].json;
      // Members and groups were loaded only if the filter needed them; load for output now.
      if (type == ResourceType::kGroup && request.include_members && !need_members) {
        auto r = tx.GetResource(conn, type, j["id"].get<std::string>());
        if (!r) return r.error();
        auto full = Render(tx, ctx, type, *r, true, true);
        if (!full) return full.error();
        j = std::move(*full);
      } else if (type == ResourceType::kUser && !need_groups && request.include_groups) {
        if (Status s = AddGroupsOf(tx, ctx, j["id"].get<std::string>(), j); !s) return s;
      }
      out.resources.push_back(std::move(j));
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<ListResult> ScimService::ListAll(const CallContext& ctx, const ListRequest& request) {
  // Each type answers the whole filter (no paging), then the union is paged. A filter that names
  // an attribute only one type has simply matches nothing in the other.
  ListRequest all = request;
  all.start_index = 1;
  all.count = limits_.max_results;
  ListResult out;
  out.start_index = std::max<int64_t>(1, request.start_index);
  std::vector<Json> combined;
  int valid = 0;
  Error last{ErrorCode::kInvalidFilter, "filter is not valid for Users or Groups"};
  for (ResourceType type : {ResourceType::kUser, ResourceType::kGroup}) {
    auto r = List(ctx, type, all);
    if (!r) {
      if (r.error().code != ErrorCode::kInvalidFilter &&
          r.error().code != ErrorCode::kInvalidValue) {
        return r.error();
      }
      last = r.error();
      continue;
    }
    ++valid;
    out.total_results += r->total_results;
    for (auto& j : r->resources) combined.push_back(std::move(j));
  }
  if (valid == 0) return last;
  int64_t count = scim::query::PageSize(request.count, limits_.max_results);
  for (int64_t i = out.start_index - 1;
       i < static_cast<int64_t>(combined.size()) && i < out.start_index - 1 + count; ++i) {
    out.resources.push_back(std::move(combined[i]));
  }
  return out;
}

}  // namespace idsync::service
