// Backup and restore of a SQLite data folder (issue #14) as one archive: a tar file compressed
// with zstd (libarchive) holding a consistent copy of idsync.db taken with SQLite's online
// backup API while `serve` may be running, the sealing key secret.key, server.json, a
// description (idsync-backup.json) and, last, SHA256SUMS over every other member.
//
// The format is documented in the README ("Backup and restore"): `tar --zstd -xf FILE` and
// `sha256sum -c SHA256SUMS` verify a backup by hand.
#pragma once

#include <string>

#include "base/json.h"
#include "base/result.h"

namespace idsync::cli {

// Writes the archive to `to` (refused when it exists; written beside it as `to`.partial and
// renamed once complete and synced, so a failed backup leaves no file named `to`). The
// description written into the archive.
Result<Json> BackupDataFolder(const std::string& data, const std::string& to);

// Restores `from` into `data`, which must not exist or be an empty folder. Unpacks into a
// hidden staging folder beside `data`, verifies every member's checksum, the member list and
// `PRAGMA integrity_check`, then renames the staging folder to `data`; on any failure the
// staging folder is removed and `data` is as it was. The archive's description.
Result<Json> RestoreDataFolder(const std::string& from, const std::string& data);

}  // namespace idsync::cli
