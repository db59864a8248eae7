// Applying a policy version (issue #13 item 2): the version is stored, then the directory is
// re-derived in batches, each its own write transaction, with a durable record of the apply's
// progress (streamed_plan.h) so that an apply killed half-way is resumed by the next `serve` or
// `policy set`. A directory that cannot be streamed is applied in one transaction, as before.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "directory/derivation.h"
#include "directory/directory_service.h"
#include "directory/linking_plan.h"
#include "directory/scope.h"
#include "directory/streamed_plan.h"
#include "directory/writer.h"
#include "policy/diff.h"

namespace idsync::directory {

namespace {

// Paths of the settings that differ between two full policy JSON forms ("groups.mode",
// "attributes.email.sources"), for the version's "what changed".
void ChangedPaths(const Json& a, const Json& b, const std::string& path,
                  std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      std::string sub = path.empty() ? k : path + "." + k;
      auto ia = a.find(k);
      auto ib = b.find(k);
      if (ia == a.end() || ib == b.end()) {
        out.push_back(sub);
      } else {
        ChangedPaths(*ia, *ib, sub, out);
      }
    }
    return;
  }
  if (a != b) out.push_back(path);
}

std::string DescribeChange(const Json& before, const Json& after) {
  std::vector<std::string> paths;
  ChangedPaths(before, after, "", paths);
  if (paths.empty()) return "no setting changed";
  std::string out = "changed: ";
  for (size_t i = 0; i < paths.size() && i < 20; ++i) out += (i ? ", " : "") + paths[i];
  if (paths.size() > 20) out += ", and " + std::to_string(paths.size() - 20) + " more";
  return out;
}

}  // namespace


namespace {

// Runs the apply recorded for `directory` to its end, batch by batch; null when none is
// recorded. Every batch re-reads the record in its own transaction, so that two processes
// resuming the same apply share its batches instead of repeating them.
Result<Json> RunApply(DirectoryService::Impl& impl, DirectoryService& service,
                      const std::string& directory, const std::atomic<bool>* stop = nullptr,
                      const ApplyOptions& options = {}) {
  // groups.import off: the groups the plan creates, once per run (a resumed run computes the
  // same set: the new policy's grants do not depend on what the batches wrote).
  std::set<std::string> created;
  bool needed = false;
  bool pending = false;
  // Outside the steady state: the linking decision (phase 0 writes it) and the unlinked sources
  // (phase 3 makes them new users), once per run. A run resumed past phase 0 decides again but
  // uses only the unlinked sources: its joins are stored links already.
  std::optional<LinkingPlan> linking;
  Status st = impl.store.Read([&](store::Transaction& tx) -> Status {
    if (!tx.KeepsPolicyApplies()) return Status::Ok();
    auto record = tx.GetPolicyApply(directory);
    if (!record) {
      if (record.error().code == ErrorCode::kNotFound) return Status::Ok();
      return record.error();
    }
    pending = true;
    auto scope = LoadScope(impl, tx, directory);
    if (!scope) return scope.error();
    const int phase = record->value("phase", kPhaseStored);
    if (record->value("linking", false) && phase < kPhaseDone) {
      auto plan = PlanLinking(tx, *scope);
      if (!plan) return plan.error();
      linking = std::move(*plan);
    }
    return PlannedGroups(tx, *scope, &created, &needed, linking ? &*linking : nullptr,
                         phase != kPhaseLink);
  });
  if (!st) return st.error();
  if (!pending) return Json(nullptr);
  DiffTally tally(100);
  // Users in the next batch: with a time bound, start small and follow the measured time of
  // each batch's work (halving at most, doubling at most, between 1 and options.batch).
  const int64_t most = std::max<int64_t>(options.batch, 1);
  int64_t size = options.batch_ms > 0 ? std::min<int64_t>(most, 20) : most;
  for (int64_t batches = 0;; ++batches) {
    if (options.stop_after_batches >= 0 && batches >= options.stop_after_batches) {
      return MakeError(ErrorCode::kUnavailable, "the policy apply on " + directory +
                                                    " stopped after " + std::to_string(batches) +
                                                    " batches, as asked");
    }
    if (stop && stop->load()) {
      return MakeError(ErrorCode::kUnavailable,
                       "the policy apply on " + directory +
                           " stopped between two batches; the next serve or policy set resumes it");
    }
    bool done = false;
    Json out;
    std::chrono::steady_clock::duration worked{};
    st = impl.store.Write([&](store::Transaction& tx) -> Status {
      const auto began = std::chrono::steady_clock::now();
      auto record = tx.GetPolicyApply(directory);
      if (!record) {
        if (record.error().code != ErrorCode::kNotFound) return record.error();
        done = true;  // finished by another process
        out = {{"finished_elsewhere", true}};
        return Status::Ok();
      }
      if (Status s = tally.Load(record->value("tally", Json())); !s) return s;
      WriteCounts applied = CountsFromJson(record->value("applied", Json()));
      auto scope = LoadScope(impl, tx, directory);
      if (!scope) return scope.error();
      if (Status s = ApplyBatch(impl, tx, *scope, needed ? &created : nullptr,
                                linking ? &*linking : nullptr, *record, tally, applied, size);
          !s) {
        return s;
      }
      worked = std::chrono::steady_clock::now() - began;
      if (record->value("phase", kPhaseStored) < kPhaseDone) {
        return tx.PutPolicyApply(directory, *record);
      }
      done = true;
      out = tally.ToJson();
      out["applied"] = CountsJson(applied);
      out["version"] = record->value("version", int64_t{0});
      store::AuditRecord a;
      a.time = impl.clock.Now();
      a.connection_id = record->value("connection_id", int64_t{0});
      a.connection_name = record->value("connection", "");
      a.request_id = record->value("request_id", "");
      a.actor = record->value("actor", "");
      a.operation = "policy.apply";
      a.resource_type = "Policy";
      a.resource_id = std::to_string(record->value("version", int64_t{0}));
      a.status = 200;
      a.detail = out["counts"].dump();
      // A re-derivation (version 0: no policy stored) is not audited, streamed or whole.
      if (record->value("version", int64_t{0}) > 0) {
        if (Status s = tx.AppendAudit(a); !s) return s;
      }
      return tx.DeletePolicyApply(directory);
    });
    if (!st) return st.error();
    service.AfterCommit();
    if (done) return out;
    if (options.batch_ms > 0) {
      const double ms =
          std::max(0.1, std::chrono::duration<double, std::milli>(worked).count());
      const double scaled = static_cast<double>(size) * static_cast<double>(options.batch_ms) / ms;
      size = std::clamp<int64_t>(static_cast<int64_t>(scaled), std::max<int64_t>(size / 2, 1),
                                 std::min(size * 2, most));
    }
    // A gap between two batches in which a writer of another process (the server, when the CLI
    // applies) takes the database's write lock: its busy handler polls every millisecond.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

}  // namespace

Result<Json> DirectoryService::ResumeApplies(const std::atomic<bool>* stop) {
  auto dirs = ListDirectories();
  if (!dirs) return dirs.error();
  Json out = Json::array();
  for (const auto& d : *dirs) {
    auto resumed = RunApply(*impl_, *this, d.name, stop);
    if (!resumed) return resumed.error();
    if (resumed->is_null()) continue;
    Json entry = {{"directory", d.name}, {"result", std::move(*resumed)}};
    out.push_back(std::move(entry));
  }
  return out;
}

Result<Json> DirectoryService::Rederive(const std::string& directory, const Actor& actor,
                                        bool whole) {
  // An apply a killed process left half-done goes first (it may have stored a policy).
  if (auto resumed = RunApply(*impl_, *this, directory); !resumed) return resumed.error();
  Json cause = {{"connection", ""},
                {"request_id", actor.request_id},
                {"actor", actor.name},
                {"reason", "directory re-derived"}};
  // The re-derivation is the batched apply of the policies in force (a record with version 0):
  // bounded memory, and SCIM writes served between its batches; outside the steady state (a
  // source not linked) it starts with the linking decision (phase 0). `whole`: the whole plan
  // in one transaction (the reference the streamed form is tested against).
  bool streamable = false;
  bool batched = false;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    if (whole || !tx.KeepsPolicyApplies()) return Status::Ok();
    batched = true;
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    auto can = Streamable(tx, *scope);
    if (!can) return can.error();
    streamable = *can;
    return Status::Ok();
  });
  if (!st) return st.error();
  Json out;
  bool streamed = false;
  st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    if (batched) {
      streamed = true;
      Json record = {{"connection", ""},
                     {"connection_id", 0},
                     {"version", 0},
                     {"phase", streamable ? kPhaseStored : kPhaseLink},
                     {"linking", !streamable},
                     {"after", 0},
                     {"cause", cause},
                     {"actor", actor.name},
                     {"request_id", actor.request_id}};
      return tx.PutPolicyApply(directory, record);
    }
    auto applied = ApplyPlan(*impl_, tx, *scope, cause, 100);
    if (!applied) return applied.error();
    out = std::move(*applied);
    return Status::Ok();
  });
  if (!st) return st.error();
  AfterCommit();
  if (!streamed) return out;
  auto applied = RunApply(*impl_, *this, directory);
  if (!applied) return applied.error();
  if (applied->is_object()) applied->erase("version");
  return applied;
}

Result<Json> DirectoryService::ApplyPolicy(const std::string& connection, const Json& policy,
                                           const Actor& actor, const ApplyOptions& options) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  // An apply that a killed process left half-done goes first: its version is older.
  if (auto resumed = RunApply(*impl_, *this, *dir); !resumed) return resumed.error();
  // Whether the new policy's plan can be streamed, read before the write transaction: the pass
  // over every source user must not hold the writer. (A source left pending by a SCIM write
  // between the two stays pending, as the live rules leave it.)
  bool streamable = false;
  bool batched = false;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    if (!tx.KeepsPolicyApplies()) return Status::Ok();
    batched = true;
    auto scope = LoadScope(*impl_, tx, *dir);
    if (!scope) return scope.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(conn, *scope->custom));
    if (!parsed) return parsed.error();
    scope->overrides[conn.id] = std::make_shared<const policy::Policy>(std::move(*parsed));
    auto can = Streamable(tx, *scope);
    if (!can) return can.error();
    streamable = *can;
    return Status::Ok();
  });
  if (!st) return st.error();
  Json out;
  bool streamed = false;
  st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(*dir);
    if (!d) return d.error();
    const bool remember = impl_->SeesCommittedConfig(tx);
    auto custom = impl_->Custom(*d, remember);
    if (!custom) return custom.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(conn, **custom));
    if (!parsed) return parsed.error();
    store::PolicyVersion v;
    v.connection_id = conn.id;
    v.body = policy::PolicyToJson(*parsed);
    v.time = impl_->clock.Now();
    v.actor = actor.name;
    // What changed, against the policy in force before (stored, or the defaults).
    auto before = impl_->Info(tx, conn, *d, **custom, remember);
    if (!before) return before.error();
    v.comment = DescribeChange(policy::PolicyToJson(*before->policy), v.body) +
                (before->policy_version == 0
                     ? " (from the defaults)"
                     : " (from version " + std::to_string(before->policy_version) + ")");
    // The new version is in force from this commit on: a SCIM write from now derives its
    // user whole with it, and the batches re-derive the others (docs/ARCHITECTURE.md).
    auto stored = tx.PutPolicy(v);
    if (!stored) return stored.error();
    auto scope = LoadScope(*impl_, tx, *dir);
    if (!scope) return scope.error();
    Json cause = {{"connection", conn.name},
                  {"request_id", actor.request_id},
                  {"actor", actor.name},
                  {"reason", "policy version " + std::to_string(stored->version) + " applied"}};
    if (batched) {
      streamed = true;
      Json record = {{"connection", conn.name},
                     {"connection_id", conn.id},
                     {"version", stored->version},
                     {"phase", streamable ? kPhaseStored : kPhaseLink},
                     {"linking", !streamable},
                     {"after", 0},
                     {"cause", cause},
                     {"actor", actor.name},
                     {"request_id", actor.request_id}};
      return tx.PutPolicyApply(*dir, record);
    }
    auto applied = ApplyPlan(*impl_, tx, *scope, cause, 100);
    if (!applied) return applied.error();
    out = std::move(*applied);
    out["version"] = stored->version;
    store::AuditRecord a;
    a.time = v.time;
    a.connection_id = conn.id;
    a.connection_name = conn.name;
    a.request_id = actor.request_id;
    a.actor = actor.name;
    a.operation = "policy.apply";
    a.resource_type = "Policy";
    a.resource_id = std::to_string(stored->version);
    a.status = 200;
    a.detail = out["counts"].dump();
    return tx.AppendAudit(a);
  });
  if (!st) return st.error();
  AfterCommit();
  if (!streamed) return out;
  return RunApply(*impl_, *this, *dir, nullptr, options);
}

}  // namespace idsync::directory
