#include "cli/ldap_account_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <utility>

#include "base/json.h"
#include "base/time.h"
#include "cli/fail.h"
#include "service/ldap_accounts.h"
#include "service/ldap_settings.h"

namespace idsync::cli {
namespace {

// The LDAP suffix of the server that last ran on this data folder (`serve` writes
// "ldap_suffix" into <data>/server.json), so that printed bind DNs are the ones it accepts.
std::string LdapSuffix(const std::string& data) {
  std::ifstream in(data + "/server.json");
  if (in) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = ParseJsonStrict(text);
    if (j && j->is_object() && j->contains("ldap_suffix") && (*j)["ldap_suffix"].is_string() &&
        !(*j)["ldap_suffix"].get<std::string>().empty()) {
      return (*j)["ldap_suffix"].get<std::string>();
    }
  }
  return std::string(service::kDefaultLdapSuffix);
}

Json AccountJson(const store::LdapAccount& a, const std::string& suffix) {
  return {{"name", a.name},
          {"directory", a.directory},
          {"bind_dn", service::LdapAccounts::BindDn(a.name, suffix)},
          {"created", FormatRfc3339(a.created)},
          {"rotated", FormatRfc3339(a.rotated)}};
}

// A settings field as the option that sets it, so errors name what the user typed.
std::string OptionOf(const std::string& detail) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"profile:", "--profile:"},   {"disabled_users:", "--disabled-users:"},
      {"posix:", "--posix:"},       {"uid_base:", "--uid-base:"},
      {"gid_base:", "--gid-base:"}, {"home_template:", "--home:"},
      {"login_shell:", "--shell:"}, {"tombstone_days:", "--tombstone-days:"},
  };
  for (const auto& [field, option] : kFields) {
    if (detail.rfind(field, 0) == 0) return option + detail.substr(std::string(field).size());
  }
  if (detail.rfind("attribute_names", 0) == 0) return "--attribute " + detail;
  return detail;
}

}  // namespace

void LdapAccountCommands::Register(CLI::App& app, std::string& data, bool& json) {
  json_ = &json;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", data, "Data folder (default ./data)");
    sub->add_flag("--json", json, "Print JSON");
  };
  account_ = app.add_subcommand(
      "ldap-account",
      "Manage LDAP service accounts (what applications bind to the LDAP server as)");
  account_->require_subcommand(1);
  add_ =
      account_->add_subcommand("add", "Create an account and print its bind DN and password once");
  add_->add_option("name", name_, "Account name: 1-64 letters, digits, '.', '-' or '_'")
      ->required();
  add_->add_option("--directory", directory_, "The one directory it may read")->required();
  list_ = account_->add_subcommand("list", "List accounts (never their passwords)");
  remove_ = account_->add_subcommand("remove", "Remove an account (its binds fail from now on)");
  remove_->add_option("name", name_, "Account name")->required();
  rotate_ = account_->add_subcommand(
      "rotate", "Give an account a new password and print it once (the old one stops now)");
  rotate_->add_option("name", name_, "Account name")->required();
  for (auto* sub : {add_, list_, remove_, rotate_}) common(sub);

  CLI::App* directory = app.get_subcommand("directory");
  settings_ = directory->add_subcommand(
      "ldap", "Show a directory's LDAP settings, or change the ones given as options");
  settings_->add_option("name", directory_, "Directory name")->required();
  profile_opt_ = settings_->add_option("--profile", profile_, "standard or active_directory");
  disabled_opt_ = settings_->add_option("--disabled-users", disabled_users_,
                                        "hide (default) or show disabled users");
  posix_opt_ = settings_->add_option("--posix", posix_, "on or off: posixAccount/posixGroup");
  uid_opt_ = settings_->add_option("--uid-base", uid_base_, "uidNumber = base + POSIX number");
  gid_opt_ = settings_->add_option("--gid-base", gid_base_, "gidNumber = base + POSIX number");
  home_opt_ = settings_->add_option("--home", home_, "homeDirectory template, {uid} = username");
  shell_opt_ = settings_->add_option("--shell", shell_, "loginShell");
  attribute_opt_ = settings_->add_option(
      "--attribute", attributes_,
      "CUSTOM=LDAPNAME: serve a custom attribute under that LDAP name (CUSTOM= removes it); "
      "repeatable");
  tombstone_opt_ = settings_->add_option(
      "--tombstone-days", tombstone_days_,
      "active_directory profile: days deleted entries stay visible to the show-deleted control");
  common(settings_);
}

bool LdapAccountCommands::Parsed() const {
  return (account_ && account_->parsed()) || (settings_ && settings_->parsed());
}

int LdapAccountCommands::Run(App& app) {
  if (settings_->parsed()) return RunSettings(app.store());
  return RunAccounts(app.ldap_accounts(), app.data());
}

int LdapAccountCommands::RunAccounts(service::LdapAccounts& accounts, const std::string& data) {
  const bool json = json_ && *json_;
  const std::string suffix = LdapSuffix(data);
  if (add_->parsed() || rotate_->parsed()) {
    const bool adding = add_->parsed();
    auto made = adding ? accounts.Add(name_, directory_, "cli") : accounts.Rotate(name_, "cli");
    if (!made) return Fail(made.error().detail);
    Json j = AccountJson(made->account, suffix);
    j["password"] = made->password;
    if (json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "LDAP account \"" << made->account.name << "\" ("
                << (adding ? "created" : "new password") << "), directory "
                << made->account.directory << "\n"
                << "  bind DN:  " << j["bind_dn"].get<std::string>() << "\n"
                << "  password: " << made->password << "\n"
                << "The password is shown only this once and will not be shown again "
                   "(`idsync ldap-account rotate "
                << made->account.name << "` issues a new one).\n";
    }
    return 0;
  }
  if (list_->parsed()) {
    auto all = accounts.List();
    if (!all) return Fail(all.error().detail);
    Json arr = Json::array();
    for (const auto& a : *all) arr.push_back(AccountJson(a, suffix));
    if (json) {
      std::cout << arr.dump(2) << "\n";
    } else {
      if (all->empty()) std::cout << "No LDAP accounts.\n";
      for (const auto& j : arr) {
        std::cout << j["name"].get<std::string>() << "  " << j["directory"].get<std::string>()
                  << "  " << j["bind_dn"].get<std::string>() << "  created "
                  << j["created"].get<std::string>() << "  rotated "
                  << j["rotated"].get<std::string>() << "\n";
      }
    }
    return 0;
  }
  Status st = accounts.Remove(name_, "cli");
  if (!st) return Fail(st.error().detail);
  if (json)
    std::cout << Json{{"name", name_}, {"removed", true}}.dump() << "\n";
  else
    std::cout << "LDAP account \"" << name_ << "\" removed.\n";
  return 0;
}

int LdapAccountCommands::RunSettings(store::Store& store) {
  const bool json = json_ && *json_;
  auto current = service::GetLdapSettings(store, directory_);
  if (!current) return Fail(current.error().detail);
  ldap::DirectorySettings shown = *current;
  const bool changing = profile_opt_->count() || disabled_opt_->count() || posix_opt_->count() ||
                        uid_opt_->count() || gid_opt_->count() || home_opt_->count() ||
                        shell_opt_->count() || attribute_opt_->count() || tombstone_opt_->count();
  if (changing) {
    Json merged = ldap::DirectorySettingsToJson(*current);
    if (profile_opt_->count()) merged["profile"] = profile_;
    if (disabled_opt_->count()) merged["disabled_users"] = disabled_users_;
    if (posix_opt_->count()) {
      if (posix_ != "on" && posix_ != "off") {
        return Fail("--posix: expected on or off, not \"" + posix_ + "\"");
      }
      merged["posix"] = posix_ == "on";
    }
    if (uid_opt_->count()) merged["uid_base"] = uid_base_;
    if (gid_opt_->count()) merged["gid_base"] = gid_base_;
    if (home_opt_->count()) merged["home_template"] = home_;
    if (shell_opt_->count()) merged["login_shell"] = shell_;
    if (tombstone_opt_->count()) merged["tombstone_days"] = tombstone_days_;
    for (const auto& a : attributes_) {
      const size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Fail("--attribute: expected CUSTOM=LDAPNAME (or CUSTOM= to remove), not \"" + a +
                    "\"");
      }
      const std::string custom = a.substr(0, eq);
      const std::string ldap_name = a.substr(eq + 1);
      if (ldap_name.empty()) {
        merged["attribute_names"].erase(custom);
      } else {
        merged["attribute_names"][custom] = ldap_name;
      }
    }
    auto stored =
        service::PutLdapSettings(store, SystemClock::Instance(), directory_, merged, "cli");
    if (!stored) {
      if (stored.error().code == ErrorCode::kInvalidValue) {
        return Fail("LDAP settings not changed: " + OptionOf(stored.error().detail));
      }
      return Fail(stored.error().detail);
    }
    shown = *stored;
  }
  const Json j = ldap::DirectorySettingsToJson(shown);
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "LDAP settings of directory " << directory_ << (changing ? " (saved)" : "") << ":\n";
  for (const auto& [key, value] : j.items()) {
    std::cout << "  " << key << ": "
              << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
  }
  return 0;
}

}  // namespace idsync::cli
