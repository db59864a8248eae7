#include "cli/admin_user_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "base/json.h"
#include "base/time.h"
#include "cli/fail.h"
#include "service/admin_users.h"

namespace idsync::cli {
namespace {

// The console URL of the server that last ran on this data folder (server.json), for the
// sign-in hint.
std::string ConsoleUrl(const std::string& data) {
  std::ifstream in(data + "/server.json");
  if (in) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = ParseJsonStrict(text);
    if (j && j->is_object() && j->contains("public_url") && (*j)["public_url"].is_string()) {
      return (*j)["public_url"].get<std::string>() + "/console/";
    }
  }
  return "http://127.0.0.1:8080/console/";
}

Json UserJson(const store::AdminUser& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"must_change_password", u.must_change_password},
          {"created", FormatRfc3339(u.created)},
          {"password_changed", FormatRfc3339(u.password_changed)}};
}

}  // namespace

void AdminUserCommands::Register(CLI::App& app, std::string& data, bool& json) {
  json_ = &json;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", data, "Data folder (default ./data)");
    sub->add_flag("--json", json, "Print JSON");
  };
  root_ = app.add_subcommand("admin-user", "Manage the admin console's users");
  root_->require_subcommand(1);
  add_ = root_->add_subcommand("add", "Create a user and print a one-time password");
  add_->add_option("name", name_, "User name: 1-64 letters, digits, '.', '-', '_' or '@'")
      ->required();
  add_->add_option("--role", role_, "admin (changes everything) or viewer (reads only)")
      ->check(CLI::IsMember({"admin", "viewer"}));
  add_->add_flag("--if-none", if_none_,
                 "Do nothing (exit 0, print nothing) if any admin user exists: for first-start "
                 "scripts");
  list_ = root_->add_subcommand("list", "List users (never their passwords)");
  remove_ = root_->add_subcommand("remove", "Remove a user; its console sessions end");
  remove_->add_option("name", name_, "User name")->required();
  reset_ = root_->add_subcommand("reset-password",
                                 "Set a new one-time password; the user's console sessions end");
  reset_->add_option("name", name_, "User name")->required();
  for (auto* sub : {add_, list_, remove_, reset_}) common(sub);
}

bool AdminUserCommands::Parsed() const {
  return root_ && root_->parsed();
}

int AdminUserCommands::Run(App& app) {
  service::AdminUsers& users = app.admin_users();
  const std::string& data = app.data();
  const std::string actor = "cli";
  const bool json = *json_;
  auto print_password = [&](const service::NewAdminPassword& made, const char* what) {
    if (json) {
      Json j = UserJson(made.user);
      j["password"] = made.password;
      j["console_url"] = ConsoleUrl(data);
      std::cout << DumpJson(j) << "\n";
      return;
    }
    std::cout << "Admin user \"" << made.user.name << "\" (" << made.user.role << ") " << what
              << ".\n"
              << "Console:            " << ConsoleUrl(data) << "\n"
              << "One-time password:  " << made.password << "\n"
              << "It is shown only this once and must be changed at the first sign-in.\n";
  };
  if (add_->parsed()) {
    if (if_none_) {
      auto all = users.List();
      if (!all) return Fail(all.error().detail);
      if (!all->empty()) return 0;
    }
    auto made = users.Add(name_, role_, actor);
    if (!made) return Fail(made.error().detail);
    print_password(*made, "created");
    return 0;
  }
  if (list_->parsed()) {
    auto all = users.List();
    if (!all) return Fail(all.error().detail);
    if (json) {
      Json arr = Json::array();
      for (const auto& u : *all) arr.push_back(UserJson(u));
      std::cout << arr.dump(2) << "\n";
      return 0;
    }
    if (all->empty()) std::cout << "No admin users. Create one: idsync admin-user add NAME\n";
    for (const auto& u : *all) {
      std::cout << u.name << "  " << u.role << "  created " << FormatRfc3339(u.created)
                << (u.must_change_password ? "  (one-time password not yet changed)" : "") << "\n";
    }
    return 0;
  }
  if (remove_->parsed()) {
    if (Status st = users.Remove(name_, actor); !st) return Fail(st.error().detail);
    if (json) {
      std::cout << DumpJson(Json{{"name", name_}, {"removed", true}}) << "\n";
    } else {
      std::cout << "Admin user \"" << name_ << "\" removed; its console sessions have ended.\n";
    }
    return 0;
  }
  auto made = users.ResetPassword(name_, actor);
  if (!made) return Fail(made.error().detail);
  print_password(*made, "has a new password; its console sessions have ended");
  return 0;
}

}  // namespace idsync::cli
