#include "store/sqlite/wal_write_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "store/sqlite/database.h"

namespace idsync::store::sqlite {
namespace {

// WAL format (https://www.sqlite.org/fileformat.html#the_write_ahead_log): a 32-byte file
// header, then frames of a 24-byte header and one page. Bytes 4-7 of a frame header hold the
// database size in pages after the commit for a commit frame, and zero for every other frame.
constexpr sqlite3_int64 kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

bool IsCommitFrameHeader(const void* data, int amount, sqlite3_int64 offset) {
  if (amount != kFrameHeaderBytes || offset < kWalHeaderBytes) return false;
  const auto* bytes = static_cast<const unsigned char*>(data);
  return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

// A WAL file opened through the buffering VFS. SQLite allocates szOsFile bytes for it; the
// default VFS's own file lives in the same allocation, at RealFileOffset().
struct WalFile {
  sqlite3_file base;             // base.pMethods == &kWalMethods once open
  sqlite3_file* real;            // the wrapped VFS's file
  std::vector<char>* run;        // the gathered bytes, not yet written (owned)
  sqlite3_int64 run_offset;      // where run[0] goes in the file
  sqlite3_int64 commit_page_at;  // offset of the page after the last commit header, or -1
};

constexpr size_t RealFileOffset() {
  return (sizeof(WalFile) + 15) / 16 * 16;
}

WalFile* Wal(sqlite3_file* file) {
  return reinterpret_cast<WalFile*>(file);
}

const sqlite3_io_methods& Real(WalFile* f) {
  return *f->real->pMethods;
}

std::atomic<uint64_t> runs_written{0};

// The unix VFS writes at most 128 KiB - 1 bytes per call (its seekAndWrite masks the length to
// 17 bits, as SQLite itself never writes more than a 64 KiB page), so a run is handed to it in
// pieces of this size: a commit of 47 frames is four writes instead of 94.
constexpr size_t kPieceBytes = size_t{64} << 10;

int Flush(WalFile* f) {
  if (f->run->empty()) return SQLITE_OK;
  runs_written.fetch_add(1, std::memory_order_relaxed);
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->run->size() && rc == SQLITE_OK; done += kPieceBytes) {
    size_t piece = std::min(kPieceBytes, f->run->size() - done);
    rc = Real(f).xWrite(f->real, f->run->data() + done, static_cast<int>(piece),
                        f->run_offset + static_cast<sqlite3_int64>(done));
  }
  // On failure the bytes are dropped: SQLite fails the transaction whose write reported it,
  // and its frames are never referenced by a commit.
  f->run->clear();
  return rc;
}

int WalClose(sqlite3_file* file) {
  WalFile* f = Wal(file);
  int flushed = Flush(f);
  int closed = Real(f).xClose(f->real);
  delete f->run;
  f->run = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int WalRead(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  const sqlite3_int64 run_end = f->run_offset + static_cast<sqlite3_int64>(f->run->size());
  if (!f->run->empty() && offset < run_end && offset + amount > f->run_offset) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return Real(f).xRead(f->real, data, amount, offset);
}

int WalWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  std::vector<char>& run = *f->run;
  const auto* bytes = static_cast<const char*>(data);
  const sqlite3_int64 run_end = f->run_offset + static_cast<sqlite3_int64>(run.size());
  if (!run.empty() && offset >= f->run_offset && offset + amount <= run_end) {
    // SQLite rewrites a page it already wrote in this transaction in place.
    std::memcpy(run.data() + (offset - f->run_offset), bytes, static_cast<size_t>(amount));
  } else {
    if (!run.empty() && offset != run_end) {
      if (int rc = Flush(f); rc != SQLITE_OK) return rc;
    }
    if (run.empty()) f->run_offset = offset;
    run.insert(run.end(), bytes, bytes + amount);
  }
  if (offset == f->commit_page_at) {
    // The commit frame is complete: the transaction's frames go to the file now, before SQLite
    // makes the commit visible in the wal-index (and before it syncs, if it does).
    f->commit_page_at = -1;
    return Flush(f);
  }
  if (IsCommitFrameHeader(data, amount, offset)) f->commit_page_at = offset + kFrameHeaderBytes;
  if (run.size() >= kMaxRunBytes) return Flush(f);
  return SQLITE_OK;
}

// Every other method of the file: `FlushThen` writes the run first (the rule of the header:
// before any other operation on the file), `Forward` only passes the call on.
template <auto Method, class... Args>
int FlushThen(sqlite3_file* file, Args... args) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return (Real(f).*Method)(f->real, args...);
}

template <auto Method, class... Args>
int Forward(sqlite3_file* file, Args... args) {
  WalFile* f = Wal(file);
  return (Real(f).*Method)(f->real, args...);
}

// A WAL file has no shared memory of its own (the wal-index belongs to the database file);
// these forward for completeness.
int WalShmMap(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  WalFile* f = Wal(file);
  if (Real(f).iVersion < 2 || Real(f).xShmMap == nullptr) return SQLITE_IOERR_SHMMAP;
  return Real(f).xShmMap(f->real, page, page_size, extend, out);
}

int WalShmLock(sqlite3_file* file, int offset, int n, int flags) {
  WalFile* f = Wal(file);
  if (Real(f).iVersion < 2 || Real(f).xShmLock == nullptr) return SQLITE_IOERR_SHMLOCK;
  return Real(f).xShmLock(f->real, offset, n, flags);
}

void WalShmBarrier(sqlite3_file* file) {
  WalFile* f = Wal(file);
  if (Real(f).iVersion >= 2 && Real(f).xShmBarrier != nullptr) Real(f).xShmBarrier(f->real);
}

int WalShmUnmap(sqlite3_file* file, int delete_flag) {
  WalFile* f = Wal(file);
  if (Real(f).iVersion < 2 || Real(f).xShmUnmap == nullptr) return SQLITE_OK;
  return Real(f).xShmUnmap(f->real, delete_flag);
}

int WalFetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  WalFile* f = Wal(file);
  *out = nullptr;
  if (Real(f).iVersion < 3 || Real(f).xFetch == nullptr) return SQLITE_OK;
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xFetch(f->real, offset, amount, out);
}

int WalUnfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  WalFile* f = Wal(file);
  if (Real(f).iVersion < 3 || Real(f).xUnfetch == nullptr) return SQLITE_OK;
  return Real(f).xUnfetch(f->real, offset, page);
}

const sqlite3_io_methods kWalMethods = {
    .iVersion = 3,
    .xClose = WalClose,
    .xRead = WalRead,
    .xWrite = WalWrite,
    .xTruncate = FlushThen<&sqlite3_io_methods::xTruncate, sqlite3_int64>,
    .xSync = FlushThen<&sqlite3_io_methods::xSync, int>,
    .xFileSize = FlushThen<&sqlite3_io_methods::xFileSize, sqlite3_int64*>,
    .xLock = FlushThen<&sqlite3_io_methods::xLock, int>,
    .xUnlock = FlushThen<&sqlite3_io_methods::xUnlock, int>,
    .xCheckReservedLock = Forward<&sqlite3_io_methods::xCheckReservedLock, int*>,
    .xFileControl = FlushThen<&sqlite3_io_methods::xFileControl, int, void*>,
    .xSectorSize = Forward<&sqlite3_io_methods::xSectorSize>,
    .xDeviceCharacteristics = Forward<&sqlite3_io_methods::xDeviceCharacteristics>,
    .xShmMap = WalShmMap,
    .xShmLock = WalShmLock,
    .xShmBarrier = WalShmBarrier,
    .xShmUnmap = WalShmUnmap,
    .xFetch = WalFetch,
    .xUnfetch = WalUnfetch,
};

sqlite3_vfs* Under(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

int VfsOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* under = Under(vfs);
  // Everything but a WAL is the wrapped VFS's own file, in our allocation (which is larger).
  if ((flags & SQLITE_OPEN_WAL) == 0) return under->xOpen(under, name, file, flags, out_flags);
  WalFile* f = Wal(file);
  f->base.pMethods = nullptr;  // SQLite calls no method (not even xClose) if the open fails
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + RealFileOffset());
  f->real->pMethods = nullptr;
  int rc = under->xOpen(under, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  f->run = new (std::nothrow) std::vector<char>();
  if (f->run == nullptr) {
    f->real->pMethods->xClose(f->real);
    return SQLITE_NOMEM;
  }
  f->run_offset = 0;
  f->commit_page_at = -1;
  f->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Under(vfs)->xDelete(Under(vfs), name, sync_dir);
}
int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Under(vfs)->xAccess(Under(vfs), name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Under(vfs)->xFullPathname(Under(vfs), name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) {
  return Under(vfs)->xDlOpen(Under(vfs), name);
}
void VfsDlError(sqlite3_vfs* vfs, int n, char* out) {
  Under(vfs)->xDlError(Under(vfs), n, out);
}
void (*VfsDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Under(vfs)->xDlSym(Under(vfs), handle, symbol);
}
void VfsDlClose(sqlite3_vfs* vfs, void* handle) {
  Under(vfs)->xDlClose(Under(vfs), handle);
}
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return Under(vfs)->xRandomness(Under(vfs), n, out);
}
int VfsSleep(sqlite3_vfs* vfs, int microseconds) {
  return Under(vfs)->xSleep(Under(vfs), microseconds);
}
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  return Under(vfs)->xCurrentTime(Under(vfs), out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Under(vfs)->xGetLastError(Under(vfs), n, out);
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Under(vfs)->xCurrentTimeInt64(Under(vfs), out);
}

// Registered VFSes must outlive every connection: they are kept until the process exits.
std::mutex registry_mutex;
std::deque<std::pair<std::string, std::unique_ptr<sqlite3_vfs>>>& Registry() {
  static auto* registry = new std::deque<std::pair<std::string, std::unique_ptr<sqlite3_vfs>>>;
  return *registry;
}

}  // namespace

uint64_t WalRunsWritten() {
  return runs_written.load(std::memory_order_relaxed);
}

bool RegisterWalWriteBufferVfs(const char* name, sqlite3_vfs* under) {
  if (under == nullptr || under->iVersion < 2) return false;
  std::lock_guard lock(registry_mutex);
  auto& [stored_name, vfs] = Registry().emplace_back(name, std::make_unique<sqlite3_vfs>());
  *vfs = sqlite3_vfs{};
  vfs->iVersion = 2;  // the system-call hooks of version 3 are for SQLite's own tests
  vfs->szOsFile = static_cast<int>(RealFileOffset()) + under->szOsFile;
  vfs->mxPathname = under->mxPathname;
  vfs->zName = stored_name.c_str();
  vfs->pAppData = under;
  vfs->xOpen = VfsOpen;
  vfs->xDelete = VfsDelete;
  vfs->xAccess = VfsAccess;
  vfs->xFullPathname = VfsFullPathname;
  vfs->xDlOpen = VfsDlOpen;
  vfs->xDlError = VfsDlError;
  vfs->xDlSym = VfsDlSym;
  vfs->xDlClose = VfsDlClose;
  vfs->xRandomness = VfsRandomness;
  vfs->xSleep = VfsSleep;
  vfs->xCurrentTime = VfsCurrentTime;
  vfs->xGetLastError = VfsGetLastError;
  vfs->xCurrentTimeInt64 = VfsCurrentTimeInt64;
  if (sqlite3_vfs_register(vfs.get(), /*makeDflt=*/0) != SQLITE_OK) {
    Registry().pop_back();
    return false;
  }
  return true;
}

const char* WalWriteBufferVfs() {
  static const char* const name = [] {
    constexpr const char* kName = "idsync-wal-write-buffer";
    ConfigureSqlite();  // before sqlite3_vfs_find initialises SQLite
    return RegisterWalWriteBufferVfs(kName, sqlite3_vfs_find(nullptr)) ? kName : nullptr;
  }();
  return name;
}

}  // namespace idsync::store::sqlite
