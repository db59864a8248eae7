// WalWriteBuffer: a SQLite VFS that hands a commit's WAL frames to the kernel in one write.
// Private to the SQLite back-end; only the writer connection opens the database through it.
//
// Why: SQLite writes each WAL frame as two pwrite calls (a 24-byte header, then the page). A
// commit of the writer's batch (eight creates, about 47 frames) made 94 system calls; on these
// virtual machines that cost ~157 us of the writer's CPU against ~12 us for one write of the
// same bytes (measured in the session that added this file). The writer is the one thread every
// SCIM write waits on, so its CPU per write bounds the write rate (issue #13 item 3).
//
// How: the VFS wraps the default one. Every file but a WAL is the default VFS's own file,
// untouched. A WAL file's writes are gathered while they extend (or overwrite inside) one
// contiguous run, and the run is written:
//   - when the page of a commit frame (a frame whose header carries the database size) has been
//     added: so every frame of a transaction is in the file before SQLite publishes the commit
//     to other connections in the wal-index, whatever the synchronous setting;
//   - before any other operation on the file (read, sync, size, truncate, lock, close...);
//   - when a write does not continue the run, or the run reaches kMaxRunBytes.
// A run is handed to the default VFS in pieces of 64 KiB (it writes at most 128 KiB per call).
// A failed write is reported by the call that triggered it (for a commit, its last frame's
// write), so SQLite fails that transaction as it would have failed the frame's own write.
#pragma once

#include <cstddef>
#include <cstdint>

struct sqlite3_vfs;

namespace idsync::store::sqlite {

// Runs longer than this are written in pieces (a policy apply's large transactions).
inline constexpr size_t kMaxRunBytes = size_t{1} << 20;

// Name of the VFS to pass to sqlite3_open_v2, wrapping the default VFS; registered on first
// call (thread-safe). nullptr if SQLite refused the registration: open with the default VFS.
const char* WalWriteBufferVfs();

// Gathered runs written to WAL files (each in pieces of at most 64 KiB) since the process started
// (all buffering VFSes). For tests and for the benchmark notes.
uint64_t WalRunsWritten();

// For tests: registers a buffering VFS named `name` over `under` (which must stay registered).
// Returns false if SQLite refused the registration.
bool RegisterWalWriteBufferVfs(const char* name, sqlite3_vfs* under);

}  // namespace idsync::store::sqlite
