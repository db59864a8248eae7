// A SCIM user create's derivation prepared before its job (see prepared_user.h).
#include "directory/prepared_user.h"

#include <vector>

#include "base/uuid.h"
#include "directory/render.h"

namespace idsync::directory {

std::shared_ptr<const PreparedUser> PrepareUser(DirectoryService::Impl& impl,
                                                const store::Connection& connection,
                                                const store::StoredResource& user,
                                                const std::string& request_id, int64_t generation) {
  // The scope cached for that generation, if any: reading and parsing a scope is the job's
  // (LoadScope), and a preparation made on a scope the job does not use is wasted. Any committed
  // generation will do: the job uses the preparation only if its own transaction reads the same.
  if (generation == 0) {
    auto committed = impl.store.ConfigGeneration();
    if (!committed) return nullptr;
    generation = *committed;
  }
  const std::shared_ptr<const Scope> scope = CachedScope(impl, connection.directory, generation);
  if (!scope || !scope->PolicyOf(connection.id)) return nullptr;
  auto p = std::make_shared<PreparedUser>();
  p->generation = generation;
  p->connection_id = connection.id;
  p->source_user_id = user.id;
  p->now = impl.clock.Now();
  // A created id is in no group: a member must exist before a group can name it.
  p->source = SourceFromBody(*scope, connection.id, user.id, user.body, {});
  if (!p->source.present) return nullptr;  // not mappable: the job records why
  // A user with memberships needs the store (which groups exist, their ids): not prepared. The
  // predicate notes whether the merge asked at all.
  bool asked = false;
  const policy::GroupExists no_lookup = [&asked](const std::string&) {
    asked = true;
    return true;
  };
  std::vector<SourceState> one{p->source};
  p->plan = Merge(*scope, NewOrderedUuid(), std::move(one), std::nullopt, "", no_lookup);
  const policy::UserState state = p->plan.user.state;
  if (asked || state == policy::UserState::kRemoved || state == policy::UserState::kNotImported ||
      !p->plan.user.memberships.empty()) {
    return nullptr;
  }
  p->row = PlannedRow(*scope, p->plan, UsernameOf(p->plan.user), {}, nullptr, request_id, p->now);
  p->row.encoded = impl.store.EncodeBody(store::BodyKind::kEffectiveUser, p->row.body);
  p->core = RenderUserCore(p->row);
  p->encoded_core = impl.store.EncodeBody(store::BodyKind::kChange, p->core);
  return p;
}

}  // namespace idsync::directory
