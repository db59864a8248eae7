#include "cli/directory_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "base/json.h"
#include "base/time.h"
#include "cli/fail.h"
#include "directory/directory_service.h"
#include "service/api_tokens.h"

namespace idsync::cli {
namespace {

// Reads JSON from a file, or from standard input for "-".
Result<Json> ReadJsonFile(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path);
    if (!in) return MakeError(ErrorCode::kInvalidValue, "cannot read " + path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto j = ParseJsonStrict(text);
  if (!j) {
    return MakeError(ErrorCode::kInvalidValue,
                     (path == "-" ? std::string("standard input") : path) +
                         " is not valid JSON: " + j.error().detail);
  }
  return *j;
}

void PrintCounts(const Json& result) {
  const Json& c = result.contains("counts") ? result["counts"] : result;
  for (const char* k : {"created", "updated", "disabled", "enabled", "removed", "memberships_added",
                        "memberships_removed", "groups_created", "groups_emptied"}) {
    if (c.contains(k)) std::cout << "  " << k << ": " << c[k].dump() << "\n";
  }
  if (result.contains("conflicts")) std::cout << "  conflicts: " << result["conflicts"] << "\n";
}

}  // namespace

void DirectoryCommands::Register(CLI::App& app, std::string& data, bool& json) {
  json_ = &json;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", data, "Data folder (default ./data)");
    sub->add_flag("--json", json, "Print JSON");
  };

  policy_ = app.add_subcommand("policy", "Show, check, preview and apply a connection's policy");
  policy_->require_subcommand(1);
  policy_get_ = policy_->add_subcommand("get", "Print the policy in force (defaults included)");
  policy_validate_ = policy_->add_subcommand("validate", "Check a policy file without applying it");
  policy_preview_ =
      policy_->add_subcommand("preview", "Show what applying a policy file would change");
  policy_set_ = policy_->add_subcommand(
      "set", "Apply a policy file: store it as a new version and re-derive the directory");
  policy_versions_ = policy_->add_subcommand("versions", "List the policy's versions");
  for (auto* sub : {policy_get_, policy_validate_, policy_preview_, policy_set_, policy_versions_}) {
    sub->add_option("connection", name_, "Connection name")->required();
    common(sub);
  }
  for (auto* sub : {policy_validate_, policy_preview_, policy_set_}) {
    sub->add_option("file", file_, "Policy JSON file, or - for standard input")->required();
  }
  policy_set_
      ->add_option("--batch", batch_,
                   "At most this many users re-derived per transaction (default 200); SCIM "
                   "writes are served between two")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  policy_set_
      ->add_option("--batch-ms", batch_ms_,
                   "Milliseconds of work per transaction (default 40): each batch is sized "
                   "from the last one's time, so a SCIM write waits about this long at most; "
                   "0: always --batch users")
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));

  explain_ = app.add_subcommand("explain", "Show where every value of an effective user came from");
  explain_->add_option("user", name_, "Username or effective user id")->required();
  explain_->add_option("--directory", directory_, "Directory (default users)");
  common(explain_);

  membership_ = app.add_subcommand(
      "membership", "Grant or revoke a group membership by hand (kept while the user's sources "
                    "keep existing memberships)");
  membership_->require_subcommand(1);
  grant_ = membership_->add_subcommand("grant", "Put a user in a local group");
  revoke_ = membership_->add_subcommand("revoke", "Take back a membership granted by hand");
  for (auto* sub : {grant_, revoke_}) {
    sub->add_option("user", name_, "Username or effective user id")->required();
    sub->add_option("group", group_, "Local group name")->required();
    sub->add_option("--directory", directory_, "Directory (default users)");
    common(sub);
  }

  conflicts_ = app.add_subcommand("conflicts", "List source users not imported: username taken");
  conflicts_->add_option("--directory", directory_, "Directory (default users)");
  common(conflicts_);

  rederive_ = app.add_subcommand("rederive", "Re-derive a directory from the mirrors (repair)");
  rederive_->add_option("--directory", directory_, "Directory (default users)");
  rederive_->add_flag("--whole", whole_,
                      "Plan the whole directory in one transaction, re-deciding every link "
                      "(SCIM writes wait; ~20 KiB of memory per user) instead of batches that "
                      "keep the stored links");
  common(rederive_);

  changes_ = app.add_subcommand("changes", "Print the change feed of a directory");
  changes_->add_option("--directory", directory_, "Directory (default users)");
  changes_->add_option("--since", since_, "Cursor: print changes after this sequence number");
  changes_->add_option("--limit", limit_, "At most this many (default 1000)")
      ->check(CLI::Range(1, 100000));
  common(changes_);

  directory_cmd_ = app.add_subcommand("directory", "Manage directories and their custom attributes");
  directory_cmd_->require_subcommand(1);
  dir_list_ = directory_cmd_->add_subcommand("list", "List directories");
  dir_create_ = directory_cmd_->add_subcommand("create", "Create a directory");
  dir_create_->add_option("name", name_, "Directory name")->required();
  dir_custom_ = directory_cmd_->add_subcommand(
      "custom-attributes", "Show, or set from a JSON file, a directory's custom attributes");
  dir_custom_->add_option("name", name_, "Directory name")->required();
  dir_custom_->add_option("file", file_, "JSON file ([{name, type, multi_valued}]) or -");
  for (auto* sub : {dir_list_, dir_create_, dir_custom_}) common(sub);

  admin_token_ = app.add_subcommand("admin-token", "Manage admin API tokens (/api/v1)");
  admin_token_->require_subcommand(1);
  admin_add_ = admin_token_->add_subcommand("add", "Create an admin token and print it once");
  admin_add_->add_option("name", name_, "Token name")->required();
  admin_list_ = admin_token_->add_subcommand("list", "List admin and read tokens");
  admin_remove_ = admin_token_->add_subcommand("remove", "Remove a token (it stops working now)");
  admin_remove_->add_option("name", name_, "Token name")->required();
  read_token_ = app.add_subcommand(
      "read-token", "Manage read API tokens for applications (/directory/v2/DIRECTORY)");
  read_token_->require_subcommand(1);
  read_add_ = read_token_->add_subcommand("add", "Create a read token and print it once");
  read_add_->add_option("name", name_, "Token name (e.g. the application)")->required();
  read_add_->add_option("--directory", directory_, "Directory it may read (default users)");
  read_list_ = read_token_->add_subcommand("list", "List admin and read tokens");
  read_remove_ = read_token_->add_subcommand("remove", "Remove a token (it stops working now)");
  read_remove_->add_option("name", name_, "Token name")->required();
  for (auto* sub : {admin_add_, admin_list_, admin_remove_, read_add_, read_list_, read_remove_}) {
    common(sub);
  }
}

bool DirectoryCommands::Parsed() const {
  for (auto* sub : {policy_, explain_, membership_, conflicts_, rederive_, changes_, directory_cmd_, admin_token_,
                    read_token_}) {
    if (sub && sub->parsed()) return true;
  }
  return false;
}

int DirectoryCommands::Run(App& app) {
  directory::DirectoryService& dirs = app.directories();
  directory::Actor actor{"cli", ""};
  const bool json = json_ && *json_;
  auto print = [&](const Json& j) { std::cout << j.dump(2) << "\n"; };

  if (policy_->parsed()) {
    if (policy_get_->parsed()) {
      auto p = dirs.GetPolicy(name_);
      if (!p) return Fail(p.error().detail);
      print(json ? *p : (*p)["policy"]);
      if (!json) {
        std::cerr << "idsync: connection \"" << name_ << "\", policy version "
                  << (*p)["version"].dump()
                  << ((*p)["version"] == 0 ? " (defaults: no policy set)" : "") << "\n";
      }
      return 0;
    }
    if (policy_versions_->parsed()) {
      auto v = dirs.PolicyVersions(name_);
      if (!v) return Fail(v.error().detail);
      if (json) {
        print(*v);
      } else {
        if (v->empty()) std::cout << "No policy set: the defaults apply.\n";
        for (const auto& e : *v) {
          std::cout << e["version"].dump() << "  " << e["time"].get<std::string>() << "  "
                    << e["actor"].get<std::string>() << "  " << e["comment"].get<std::string>()
                    << "\n";
        }
      }
      return 0;
    }
    auto body = ReadJsonFile(file_);
    if (!body) return Fail(body.error().detail);
    if (policy_validate_->parsed()) {
      auto v = dirs.ValidatePolicy(name_, *body);
      if (!v) return Fail("policy not valid: " + v.error().detail);
      if (json) print(*v);
      else std::cout << "The policy is valid.\n";
      return 0;
    }
    if (policy_preview_->parsed()) {
      auto v = dirs.PreviewPolicy(name_, *body);
      if (!v) return Fail(v.error().detail);
      if (json) {
        print(*v);
      } else {
        std::cout << "Applying this policy to \"" << name_ << "\" would change:\n";
        PrintCounts(*v);
      }
      return 0;
    }
    directory::ApplyOptions options;
    options.batch = batch_;
    options.batch_ms = batch_ms_;
    auto v = dirs.ApplyPolicy(name_, *body, actor, options);
    if (!v) return Fail(v.error().detail);
    if (json) {
      print(*v);
    } else {
      std::cout << "Policy version " << (*v)["version"].dump() << " of \"" << name_
                << "\" applied. Changes:\n";
      PrintCounts(*v);
    }
    return 0;
  }
  if (explain_->parsed()) {
    auto e = dirs.Explain(directory_, name_);
    if (!e) return Fail(e.error().detail);
    if (json) {
      print(*e);
      return 0;
    }
    const Json& j = *e;
    std::cout << j["username"].get<std::string>() << " (" << j["id"].get<std::string>() << ") in "
              << directory_ << ": " << j["state"].get<std::string>();
    if (!j["state_reason"].get<std::string>().empty()) {
      std::cout << " (" << j["state_reason"].get<std::string>() << ")";
    }
    std::cout << "\nattributes:\n";
    for (const auto& [k, v] : j["attributes"].items()) {
      std::cout << "  " << k << " = " << v["value"].dump() << "  from "
                << v.value("connection_name", "") << " user " << v.value("source_user", "")
                << " via " << v.value("source", "") << " (" << v.value("rule", "") << ")"
                << (v.value("request_id", "").empty() ? ""
                                                       : ", request " + v.value("request_id", ""))
                << "\n";
    }
    std::cout << "groups:\n";
    for (const auto& m : j["memberships"]) {
      std::cout << "  " << m["group"].get<std::string>() << ":";
      for (const auto& g : m["grants"]) {
        std::cout << " " << g["rule"].get<std::string>();
        if (!g["source_group"].get<std::string>().empty()) {
          std::cout << " from source group " << g["source_group"].get<std::string>();
        }
        if (!g["detail"].get<std::string>().empty()) {
          std::cout << " (" << g["detail"].get<std::string>() << ")";
        }
      }
      std::cout << "\n";
    }
    if (!j["entitlements"].empty()) {
      std::cout << "entitlements:\n";
      for (const auto& en : j["entitlements"]) {
        std::cout << "  " << en["value"].get<std::string>() << " (group "
                  << en["group"].get<std::string>() << ")\n";
      }
    }
    std::cout << "sources:\n";
    for (const auto& s : j["sources"]) {
      std::cout << "  " << s["connection_name"].get<std::string>() << " user "
                << s["source_user"].get<std::string>() << " priority " << s["priority"].dump()
                << (s["deleted"].get<bool>() ? " (deleted)" : "") << "\n";
    }
    for (const auto& w : j["warnings"]) std::cout << "warning: " << w.get<std::string>() << "\n";
    return 0;
  }
  if (membership_->parsed()) {
    auto r = grant_->parsed() ? dirs.GrantMembership(directory_, name_, group_, actor)
                              : dirs.RevokeMembership(directory_, name_, group_, actor);
    if (!r) return Fail(r.error().detail);
    if (json) {
      print(*r);
    } else {
      std::cout << "Membership of \"" << name_ << "\" in \"" << group_ << "\" "
                << (grant_->parsed() ? "granted" : "revoked") << ".\n";
    }
    return 0;
  }
  if (conflicts_->parsed()) {
    auto c = dirs.Conflicts(directory_);
    if (!c) return Fail(c.error().detail);
    if (json) {
      print(*c);
    } else {
      if (c->empty()) std::cout << "No conflicts in " << directory_ << ".\n";
      for (const auto& e : *c) {
        // The holder is named so that an administrator can tell a re-hire or a second person
        // from a stale account without a second command.
        const Json& d = e["detail"];
        std::cout << e["username"].get<std::string>() << "  from "
                  << e["connection_name"].get<std::string>() << " user "
                  << e["source_user"].get<std::string>() << ": " << d.value("reason", "");
        if (!d.value("held_by", "").empty()) {
          std::cout << " (held by " << d.value("held_by_username", "") << ", id "
                    << d.value("held_by", "") << ")";
        }
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (rederive_->parsed()) {
    auto r = dirs.Rederive(directory_, actor, whole_);
    if (!r) return Fail(r.error().detail);
    if (json) {
      print(*r);
    } else {
      std::cout << "Directory " << directory_ << " re-derived. Changes:\n";
      PrintCounts(*r);
    }
    return 0;
  }
  if (changes_->parsed()) {
    auto c = dirs.Changes(directory_, since_, limit_, std::chrono::milliseconds(0));
    if (!c) return Fail(c.error().detail);
    for (const auto& ch : *c) std::cout << directory::ChangeToJson(ch).dump() << "\n";
    return 0;
  }
  if (directory_cmd_->parsed()) {
    auto record_json = [](const store::DirectoryRecord& d) {
      return Json{{"name", d.name},
                  {"custom_attributes", d.custom_attributes},
                  {"version", d.version},
                  {"created", FormatRfc3339(d.created)}};
    };
    if (dir_list_->parsed()) {
      auto all = dirs.ListDirectories();
      if (!all) return Fail(all.error().detail);
      Json arr = Json::array();
      for (const auto& d : *all) arr.push_back(record_json(d));
      if (json) {
        print(arr);
      } else {
        for (const auto& d : *all) {
          std::cout << d.name << "  " << d.custom_attributes.size() << " custom attribute(s)\n";
        }
      }
      return 0;
    }
    if (dir_create_->parsed()) {
      auto d = dirs.CreateDirectory(name_, actor);
      if (!d) return Fail(d.error().detail);
      if (json) print(record_json(*d));
      else std::cout << "Directory \"" << name_ << "\" created.\n";
      return 0;
    }
    if (file_.empty()) {
      auto d = dirs.GetDirectory(name_);
      if (!d) return Fail(d.error().detail);
      print(d->custom_attributes);
      return 0;
    }
    auto body = ReadJsonFile(file_);
    if (!body) return Fail(body.error().detail);
    auto d = dirs.SetCustomAttributes(name_, *body, actor);
    if (!d) return Fail("custom attributes not valid: " + d.error().detail);
    if (json) print(record_json(*d));
    else std::cout << "Custom attributes of \"" << name_ << "\" set; directory re-derived.\n";
    return 0;
  }
  // Tokens.
  service::ApiTokens& tokens = app.api_tokens();
  if (admin_add_->parsed() || read_add_->parsed()) {
    const bool admin = admin_add_->parsed();
    auto t = tokens.Add(name_, admin ? "admin" : "read", admin ? "" : directory_, "cli");
    if (!t) return Fail(t.error().detail);
    Json j = {{"name", t->token.name},
              {"kind", t->token.kind},
              {"directory", t->token.directory},
              {"token", t->secret}};
    if (json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << (admin ? "Admin" : "Read") << " token \"" << name_ << "\""
                << (admin ? "" : " for directory " + directory_) << ": " << t->secret << "\n"
                << "The token is shown only this once.\n";
    }
    return 0;
  }
  if (admin_list_->parsed() || read_list_->parsed()) {
    auto all = tokens.List();
    if (!all) return Fail(all.error().detail);
    Json arr = Json::array();
    for (const auto& t : *all) {
      arr.push_back({{"name", t.name},
                     {"kind", t.kind},
                     {"directory", t.directory},
                     {"created", FormatRfc3339(t.created)}});
    }
    if (json) {
      print(arr);
    } else {
      if (all->empty()) std::cout << "No admin or read tokens.\n";
      for (const auto& t : *all) {
        std::cout << t.name << "  " << t.kind << (t.directory.empty() ? "" : "  " + t.directory)
                  << "  " << FormatRfc3339(t.created) << "\n";
      }
    }
    return 0;
  }
  Status st = tokens.Remove(name_, "cli");
  if (!st) return Fail(st.error().detail);
  if (json) print(Json{{"name", name_}, {"removed", true}});
  else std::cout << "Token \"" << name_ << "\" removed.\n";
  return 0;
}

}  // namespace idsync::cli
