#include "cli/backup.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/time.h"
#include "cli/version.h"

namespace idsync::cli {
namespace {

constexpr const char* kDatabase = "idsync.db";
constexpr const char* kDescription = "idsync-backup.json";
constexpr const char* kSums = "SHA256SUMS";
// The files of a data folder a backup carries besides the database; absent ones are skipped
// (secret.key exists once an LDAP connection sealed a password, server.json once serve ran).
constexpr std::array<const char*, 2> kOptionalFiles = {"secret.key", "server.json"};
constexpr int kFormat = 1;

Error BackupError(const std::string& detail) {
  return MakeError(ErrorCode::kUnavailable, detail);
}

std::string Errno() {
  return std::strerror(errno);
}

std::string Parent(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += kDigits[digest[i] >> 4];
      out += kDigits[digest[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return BackupError("cannot read " + path + ": " + Errno());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return BackupError("cannot read " + path);
  return out.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return BackupError("cannot open " + path + ": " + Errno());
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return BackupError("cannot sync " + path + ": " + Errno());
  return Status::Ok();
}

// A transactionally consistent copy of `source` in `target` (a new file) with SQLite's online
// backup API in one step: it reads the whole database inside one read transaction, which in
// WAL mode neither blocks nor waits for the running server's writer.
Status SnapshotDatabase(const std::string& source, const std::string& target) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close_both = [&] {
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
  };
  if (sqlite3_open_v2(source.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string e = src ? sqlite3_errmsg(src) : "out of memory";
    close_both();
    return BackupError("cannot open database " + source + ": " + e);
  }
  sqlite3_busy_timeout(src, 10000);
  if (sqlite3_open_v2(target.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string e = dst ? sqlite3_errmsg(dst) : "out of memory";
    close_both();
    return BackupError("cannot create " + target + ": " + e);
  }
  // The server's checkpointer may hold a lock for a moment; retry for up to ~10 s.
  for (int attempt = 0;; ++attempt) {
    sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
    if (!backup) {
      std::string e = sqlite3_errmsg(dst);
      close_both();
      return BackupError("cannot start the database copy: " + e);
    }
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc == SQLITE_DONE) break;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::string e = sqlite3_errstr(rc);
    close_both();
    return BackupError("cannot copy database " + source + ": " + e);
  }
  close_both();
  return Status::Ok();
}

Result<std::string> IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string e = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return BackupError(e);
  }
  sqlite3_stmt* stmt = nullptr;
  std::string result;
  int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char* line = sqlite3_column_text(stmt, 0);
    if (!result.empty()) result += "; ";
    result += line ? reinterpret_cast<const char*>(line) : "";
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) result = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return result;
}

// One archive member: its bytes in memory (the description, SHA256SUMS, small files) or a
// file streamed from disk (the database copy, which may be large).
struct Member {
  std::string name;
  std::string content;
  std::string path;
  int64_t size = 0;
};

Result<std::string> HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return BackupError("cannot read " + path + ": " + Errno());
  Sha256 sha;
  char buffer[65536];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) sha.Update(buffer, static_cast<size_t>(n));
  ::close(fd);
  if (n < 0) return BackupError("cannot read " + path + ": " + Errno());
  return sha.Hex();
}

Status AddMember(struct archive* a, const Member& m, time_t mtime) {
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, m.name.c_str());
  archive_entry_set_size(entry,
                         m.path.empty() ? static_cast<la_int64_t>(m.content.size()) : m.size);
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0600);
  archive_entry_set_mtime(entry, mtime, 0);
  bool ok = archive_write_header(a, entry) == ARCHIVE_OK;
  auto write_all = [&](const char* data, size_t size) {
    size_t written = 0;
    while (ok && written < size) {
      la_ssize_t n = archive_write_data(a, data + written, size - written);
      ok = n > 0;
      if (ok) written += static_cast<size_t>(n);
    }
  };
  if (m.path.empty()) {
    write_all(m.content.data(), m.content.size());
  } else if (ok) {
    int fd = ::open(m.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      archive_entry_free(entry);
      return BackupError("cannot read " + m.path + ": " + Errno());
    }
    char buffer[65536];
    ssize_t n = 0;
    int64_t total = 0;
    while (ok && (n = ::read(fd, buffer, sizeof buffer)) > 0) {
      write_all(buffer, static_cast<size_t>(n));
      total += n;
    }
    ::close(fd);
    if (n < 0 || total != m.size) {
      archive_entry_free(entry);
      return BackupError("cannot read " + m.path + " (it changed while being archived)");
    }
  }
  archive_entry_free(entry);
  if (!ok) return BackupError(std::string("cannot write the archive: ") + archive_error_string(a));
  return Status::Ok();
}

Status WriteArchive(const std::string& path, const std::vector<Member>& members) {
  // Mode 0600 whatever the umask: the archive holds the sealing key.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return BackupError("cannot create " + path + ": " + Errno());
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_zstd(a);
  auto fail = [&](const std::string& what) {
    std::string e = archive_error_string(a) ? archive_error_string(a) : Errno();
    archive_write_free(a);
    ::close(fd);
    return BackupError(what + " " + path + ": " + e);
  };
  if (archive_write_open_fd(a, fd) != ARCHIVE_OK) return fail("cannot write");
  time_t now = ::time(nullptr);
  for (const auto& m : members) {
    if (Status s = AddMember(a, m, now); !s) {
      archive_write_free(a);
      ::close(fd);
      return s;
    }
  }
  if (archive_write_close(a) != ARCHIVE_OK) return fail("cannot finish");
  archive_write_free(a);
  bool synced = ::fsync(fd) == 0;
  bool closed = ::close(fd) == 0;
  if (!synced || !closed) return BackupError("cannot write " + path + ": " + Errno());
  return Status::Ok();
}

// Removes a flat staging folder (restore writes no subfolders into it).
void RemoveFolder(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((dir + "/" + name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

Result<bool> IsEmptyFolder(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return BackupError("cannot read " + dir + ": " + Errno());
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") empty = false;
  }
  ::closedir(d);
  return empty;
}

// SHA256SUMS lines are `<64 hex>  <name>` (sha256sum's text format).
Result<std::map<std::string, std::string>> ParseSums(const std::string& text) {
  std::map<std::string, std::string> sums;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 67 || line.substr(64, 2) != "  ") {
      return BackupError("its SHA256SUMS has a malformed line");
    }
    sums[line.substr(66)] = line.substr(0, 64);
  }
  return sums;
}

// Unpacks `from` into `staging`, checking member names and checksums as it goes.
Result<Json> Unpack(const std::string& from, const std::string& staging) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, from.c_str(), 65536) != ARCHIVE_OK) {
    std::string e = archive_error_string(a) ? archive_error_string(a) : Errno();
    archive_read_free(a);
    return BackupError(from + " is not a readable idsync backup: " + e);
  }
  auto broken = [&](const std::string& why) {
    archive_read_free(a);
    return BackupError(from + " is not a readable idsync backup (" + why +
                       "); nothing was restored");
  };
  std::map<std::string, std::string> digests;  // member -> sha256 of its content
  std::string sums_text, description_text;
  bool sums_last = false;
  struct archive_entry* entry = nullptr;
  int rc = ARCHIVE_OK;
  while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    bool known = name == kDatabase || name == kDescription || name == kSums;
    for (const char* f : kOptionalFiles) known |= name == f;
    if (!known) return broken("unexpected member \"" + name + "\"");
    if (archive_entry_filetype(entry) != AE_IFREG) return broken(name + " is not a file");
    if (digests.count(name) || (name == kSums && !sums_text.empty())) {
      return broken("member " + name + " appears twice");
    }
    if (sums_last) return broken("SHA256SUMS is not the last member");
    bool keep_in_memory = name == kSums || name == kDescription;
    int fd = -1;
    if (!keep_in_memory) {
      std::string path = staging + "/" + name;
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        archive_read_free(a);
        return BackupError("cannot write " + path + ": " + Errno());
      }
    }
    Sha256 sha;
    std::string memory;
    char buffer[65536];
    la_ssize_t n = 0;
    while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) {
      sha.Update(buffer, static_cast<size_t>(n));
      if (keep_in_memory) {
        memory.append(buffer, static_cast<size_t>(n));
      } else if (::write(fd, buffer, static_cast<size_t>(n)) != n) {
        ::close(fd);
        archive_read_free(a);
        return BackupError("cannot write into " + staging + ": " + Errno());
      }
    }
    if (fd >= 0) {
      bool synced = ::fsync(fd) == 0;
      ::close(fd);
      if (n == 0 && !synced) {
        archive_read_free(a);
        return BackupError("cannot sync " + staging + "/" + name + ": " + Errno());
      }
    }
    if (n < 0) return broken(archive_error_string(a) ? archive_error_string(a) : "read error");
    if (name == kSums) {
      sums_text = memory;
      sums_last = true;
    } else {
      digests[name] = sha.Hex();
      if (name == kDescription) description_text = memory;
    }
  }
  if (rc != ARCHIVE_EOF) {
    return broken(archive_error_string(a) ? archive_error_string(a) : "damaged archive");
  }
  archive_read_free(a);
  auto fail = [&](const std::string& why) {
    return BackupError(from + " is not a valid idsync backup (" + why + "); nothing was restored");
  };
  if (sums_text.empty()) return fail("it has no SHA256SUMS: truncated, or not an idsync backup");
  auto sums = ParseSums(sums_text);
  if (!sums) return fail(sums.error().detail);
  for (const auto& [name, digest] : *sums) {
    auto it = digests.find(name);
    if (it == digests.end()) return fail("member " + name + " listed in SHA256SUMS is missing");
    if (it->second != digest) return fail("checksum mismatch for " + name);
  }
  for (const auto& [name, digest] : digests) {
    if (!sums->count(name)) return fail("member " + name + " is not in SHA256SUMS");
  }
  if (!digests.count(kDatabase)) return fail("it holds no idsync.db");
  auto description = ParseJsonStrict(description_text);
  if (!description || !description->is_object() || !description->contains("format") ||
      !(*description)["format"].is_number_integer()) {
    return fail("its idsync-backup.json is missing or malformed");
  }
  if ((*description)["format"].get<int>() > kFormat) {
    return fail("it was written in backup format " +
                std::to_string((*description)["format"].get<int>()) +
                " by a newer idsync; restore it with that version");
  }
  return *description;
}

}  // namespace

Result<Json> BackupDataFolder(const std::string& data, const std::string& to) {
  std::string dir = data;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string db = dir + "/" + kDatabase;
  if (!Exists(db)) {
    return BackupError("no database in " + dir + " (" + db +
                       " does not exist); pass the --data folder "
                       "idsync serve uses");
  }
  if (Exists(to)) return BackupError(to + " already exists; choose a new file name");
  const std::string partial = to + ".partial";
  const std::string snapshot = to + ".db-snapshot";
  ::unlink(partial.c_str());
  ::unlink(snapshot.c_str());
  auto cleanup = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      ::unlink((snapshot + suffix).c_str());
    }
    ::unlink(partial.c_str());
  };
  // Created empty with mode 0600 first: SQLite would give the copy the umask's mode.
  int fd = ::open(snapshot.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return BackupError("cannot create " + snapshot + ": " + Errno());
  ::close(fd);
  if (Status s = SnapshotDatabase(db, snapshot); !s) {
    cleanup();
    return s.error();
  }
  // The copy keeps the source's WAL flag; closing its last connection folded its WAL into the
  // file and removed it. A WAL left behind would hold pages the archive would miss.
  if (Exists(snapshot + "-wal")) {
    cleanup();
    return BackupError("the database copy " + snapshot + " kept a write-ahead log; try again");
  }
  std::vector<Member> members;
  std::map<std::string, std::string> digests;
  {
    struct stat st {};
    auto digest = HashFile(snapshot);
    if (!digest || ::stat(snapshot.c_str(), &st) != 0) {
      cleanup();
      return digest ? BackupError("cannot read " + snapshot + ": " + Errno()) : digest.error();
    }
    digests[kDatabase] = *digest;
    members.push_back({kDatabase, "", snapshot, st.st_size});
  }
  for (const char* name : kOptionalFiles) {
    std::string path = dir + "/" + name;
    if (!Exists(path)) continue;
    auto content = ReadFile(path);
    if (!content) {
      cleanup();
      return content.error();
    }
    members.push_back({name, std::move(*content), "", 0});
  }
  Json files = Json::object();
  for (const auto& m : members) files[m.name] = m.path.empty() ? int64_t(m.content.size()) : m.size;
  const auto& build = GetBuildInfo();
  Json description = {{"format", kFormat},
                      {"created", FormatRfc3339(SystemClock::Instance().Now())},
                      {"idsync_version", build.version},
                      {"idsync_commit", build.commit},
                      {"data_folder", dir},
                      {"files", files}};
  members.insert(members.begin(), Member{kDescription, DumpJson(description) + "\n", "", 0});
  std::string sums;
  for (const auto& m : members) {
    if (!m.path.empty()) {
      sums += digests[m.name] + "  " + m.name + "\n";
      continue;
    }
    Sha256 sha;
    sha.Update(m.content.data(), m.content.size());
    sums += sha.Hex() + "  " + m.name + "\n";
  }
  members.push_back({kSums, sums, "", 0});
  if (Status s = WriteArchive(partial, members); !s) {
    cleanup();
    return s.error();
  }
  for (const char* suffix : {"", "-shm"}) ::unlink((snapshot + suffix).c_str());
  if (::rename(partial.c_str(), to.c_str()) != 0) {
    std::string e = Errno();
    cleanup();
    return BackupError("cannot rename " + partial + " to " + to + ": " + e);
  }
  if (Status s = SyncPath(Parent(to), O_RDONLY | O_DIRECTORY); !s) return s.error();
  return description;
}

Result<Json> RestoreDataFolder(const std::string& from, const std::string& data) {
  std::string target = data;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return BackupError(target + " exists and is not a folder");
    auto empty = IsEmptyFolder(target);
    if (!empty) return empty.error();
    if (!*empty) {
      return BackupError(
          "refusing to restore into " + target +
          ": the folder is not empty (restore into a new folder, then point --data at "
          "it)");
    }
  } else if (errno != ENOENT) {
    return BackupError("cannot read " + target + ": " + Errno());
  }
  if (!Exists(from)) return BackupError("backup file " + from + " does not exist");
  std::string staging_template = Parent(target) + "/." + BaseName(target) + ".restore-XXXXXX";
  std::vector<char> buffer(staging_template.begin(), staging_template.end());
  buffer.push_back('\0');
  if (!::mkdtemp(buffer.data())) {
    return BackupError("cannot create a staging folder beside " + target + ": " + Errno());
  }
  const std::string staging = buffer.data();  // mode 0700, like a data folder should be
  auto description = Unpack(from, staging);
  if (!description) {
    RemoveFolder(staging);
    return description.error();
  }
  auto check = IntegrityCheck(staging + "/" + kDatabase);
  if (!check || *check != "ok") {
    RemoveFolder(staging);
    return BackupError("the database in " + from + " fails PRAGMA integrity_check (" +
                       (check ? *check : check.error().detail) + "); nothing was restored");
  }
  Status synced = SyncPath(staging, O_RDONLY | O_DIRECTORY);
  // rename(2) replaces an empty folder atomically; a missing one is simply created.
  if (!synced || ::rename(staging.c_str(), target.c_str()) != 0) {
    std::string e = synced ? Errno() : synced.error().detail;
    RemoveFolder(staging);
    return BackupError("cannot move the restored folder into place at " + target + ": " + e);
  }
  if (Status s = SyncPath(Parent(target), O_RDONLY | O_DIRECTORY); !s) return s.error();
  return description;
}

}  // namespace idsync::cli
