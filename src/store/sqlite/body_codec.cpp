#include "store/sqlite/body_codec.h"

#include <algorithm>
#include <utility>

#include <zdict.h>
#include <zstd.h>

#include "store/sqlite/queries.h"

namespace idsync::store::sqlite {

namespace {

constexpr unsigned char kFormat = 1;
constexpr size_t kHeader = 5;  // format byte + dictionary id
// Level 1, not zstd's default 3: on bodies of 1-2 KB against a trained dictionary the two give
// the same size (20,000 users: a 52.46 MB folder at level 1, 52.70 at 3), and level 1 took the
// writer's compression from 10.7% to 7.0% of its CPU (perf, 20,000 creates; eighteenth session).
// Only compression depends on it: bodies written at any level read back alike.
constexpr int kLevel = 1;
constexpr size_t kDictionaryCapacity = 32 * 1024;
constexpr size_t kMaxSampleBytes = 4096;   // longer bodies are cut: typical ones matter
constexpr size_t kMaxDecoded = 64u << 20;  // larger than any body the server accepts
constexpr int kMaxAttempts = 3;
// zstd wants far more sample bytes than dictionary bytes: small bodies (change causes) are
// collected until there are this many bytes, even past the wanted count.
constexpr size_t kMinSampleBytes = 16 * 1024;

Error Corrupt(std::string_view what, std::string_view why) {
  return MakeError(ErrorCode::kInternal,
                   "stored " + std::string(what) + " cannot be decoded: " + std::string(why));
}

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One compression and one decompression context per thread: contexts are not thread-safe
// but reusable, and creating one per call would cost more than compressing a body.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

size_t Slot(BodyKind kind) {
  return static_cast<size_t>(kind) - 1;
}

}  // namespace

struct BodyCodec::Dictionary {
  int64_t id = 0;
  ZSTD_CDict* cdict = nullptr;  // shared read-only by every thread
  ZSTD_DDict* ddict = nullptr;
  ~Dictionary() {
    ZSTD_freeCDict(cdict);
    ZSTD_freeDDict(ddict);
  }
};

BodyCodec::BodyCodec(size_t samples_to_train) {
  for (auto& c : collecting_) {
    c.wanted = samples_to_train;
    if (samples_to_train == 0) c.attempts = kMaxAttempts;  // never compress
  }
}

BodyCodec::~BodyCodec() = default;

std::shared_ptr<const BodyCodec::Dictionary> BodyCodec::MakeDictionary(int64_t id,
                                                                       const std::string& bytes) {
  auto d = std::make_shared<Dictionary>();
  d->id = id;
  d->cdict = ZSTD_createCDict(bytes.data(), bytes.size(), kLevel);
  d->ddict = ZSTD_createDDict(bytes.data(), bytes.size());
  if (d->cdict == nullptr || d->ddict == nullptr) return nullptr;
  return d;
}

Status BodyCodec::Load(Database& db) {
  auto select = db.Prepare(sql::kListDictionaries);
  if (!select) return select.error();
  for (;;) {
    auto row = select->Step("reading compression dictionaries");
    if (!row) return row.error();
    if (!*row) break;
    int64_t kind = select->Int(1);
    if (kind < 1 || kind > kBodyKinds) continue;  // a kind of a newer release
    Install(select->Int(0), static_cast<BodyKind>(kind), select->Blob(2));
  }
  return Status::Ok();
}

void BodyCodec::Bind(Statement& statement, int index, BodyKind kind, std::string_view text) {
  Bind(statement, index, Encode(kind, text));
}

void BodyCodec::Bind(Statement& statement, int index, const EncodedBody& encoded) {
  if (encoded.blob) {
    statement.BindBlob(index, encoded.bytes);
  } else {
    statement.Bind(index, encoded.bytes);
  }
}

EncodedBody BodyCodec::Encode(BodyKind kind, std::string_view text) {
  std::shared_ptr<const Dictionary> dict;
  {
    std::lock_guard lock(mutex_);
    dict = current_[Slot(kind)];
    if (!dict) {
      Collecting& c = collecting_[Slot(kind)];
      if (!c.training && c.attempts < kMaxAttempts &&
          (c.samples.size() < c.wanted || c.bytes < kMinSampleBytes)) {
        c.samples.emplace_back(text.substr(0, kMaxSampleBytes));
        c.bytes += c.samples.back().size();
      }
    }
  }
  EncodedBody out;
  if (dict) {
    out.bytes.assign(kHeader + ZSTD_compressBound(text.size()), '\0');
    out.bytes[0] = static_cast<char>(kFormat);
    auto id = static_cast<uint32_t>(dict->id);
    for (int i = 0; i < 4; ++i) out.bytes[1 + i] = static_cast<char>((id >> (8 * i)) & 0xff);
    ZSTD_CCtx* cctx = ThreadCCtx();
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);    // the header names the dictionary
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);  // SQLite pages are checked already
    ZSTD_CCtx_refCDict(cctx, dict->cdict);
    size_t n = ZSTD_compress2(cctx, out.bytes.data() + kHeader, out.bytes.size() - kHeader,
                              text.data(), text.size());
    if (!ZSTD_isError(n) && kHeader + n < text.size()) {
      out.bytes.resize(kHeader + n);
      out.blob = true;
      return out;
    }
  }
  out.bytes.assign(text);
  out.blob = false;
  return out;
}

std::shared_ptr<const BodyCodec::Dictionary> BodyCodec::Find(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<const BodyCodec::Dictionary>> BodyCodec::LoadOne(Database& db, int64_t id) {
  auto select = db.Prepare(sql::kGetDictionary);
  if (!select) return select.error();
  select->Bind(1, id);
  auto row = select->Step("reading a compression dictionary");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kInternal,
                     "compression dictionary " + std::to_string(id) + " is missing");
  }
  auto dict = MakeDictionary(id, select->Blob(1));
  if (!dict) {
    return MakeError(ErrorCode::kInternal,
                     "compression dictionary " + std::to_string(id) + " is corrupt");
  }
  std::lock_guard lock(mutex_);
  by_id_.emplace(id, dict);  // another thread may have loaded it first: same content
  return dict;
}

Result<std::string> BodyCodec::Read(Database& db, const Statement& row, int column,
                                    std::string_view what) {
  if (!row.IsBlob(column)) return row.Text(column);
  std::string_view blob = row.BlobView(column);
  if (blob.size() < kHeader || static_cast<unsigned char>(blob[0]) != kFormat) {
    return Corrupt(what, "unknown format");
  }
  uint32_t id = 0;
  for (int i = 0; i < 4; ++i) {
    id |= static_cast<uint32_t>(static_cast<unsigned char>(blob[1 + i])) << (8 * i);
  }
  auto dict = Find(id);
  if (!dict) {
    auto loaded = LoadOne(db, id);
    if (!loaded) return loaded.error();
    dict = std::move(*loaded);
  }
  std::string_view frame = blob.substr(kHeader);
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxDecoded) {
    return Corrupt(what, "bad frame header");
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t n = ZSTD_decompress_usingDDict(ThreadDCtx(), out.data(), out.size(), frame.data(),
                                        frame.size(), dict->ddict);
  if (ZSTD_isError(n) || n != out.size()) return Corrupt(what, "bad frame");
  return out;
}

std::optional<TrainingSet> BodyCodec::TakeTrainingSet() {
  std::lock_guard lock(mutex_);
  for (int k = 1; k <= kBodyKinds; ++k) {
    Collecting& c = collecting_[static_cast<size_t>(k - 1)];
    if (current_[static_cast<size_t>(k - 1)] || c.training || c.attempts >= kMaxAttempts ||
        c.samples.size() < c.wanted || c.bytes < kMinSampleBytes) {
      continue;
    }
    c.training = true;
    ++c.attempts;
    c.bytes = 0;
    TrainingSet set{static_cast<BodyKind>(k), std::move(c.samples)};
    c.samples.clear();
    return set;
  }
  return std::nullopt;
}

void BodyCodec::TrainingFailed(BodyKind kind) {
  std::lock_guard lock(mutex_);
  Collecting& c = collecting_[Slot(kind)];
  c.training = false;
  c.samples.clear();
  c.bytes = 0;
  c.wanted *= 2;
}

Result<std::string> BodyCodec::Train(const std::vector<std::string>& samples) {
  std::string all;
  std::vector<size_t> sizes;
  for (const auto& s : samples) {
    all += s;
    sizes.push_back(s.size());
  }
  size_t capacity = std::min(kDictionaryCapacity, all.size() / 8);
  if (capacity < 1024 || sizes.size() < 8) {
    return MakeError(ErrorCode::kInternal, "too few samples to train a dictionary");
  }
  std::string dict(capacity, '\0');
  size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), all.data(), sizes.data(),
                                   static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) {
    return MakeError(ErrorCode::kInternal,
                     std::string("training a dictionary failed: ") + ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

Result<int64_t> BodyCodec::Store(Database& db, BodyKind kind, const std::string& dictionary) {
  auto insert = db.Prepare(sql::kInsertDictionary);
  if (!insert) return insert.error();
  insert->Bind(1, int64_t{static_cast<int>(kind)}).BindBlob(2, dictionary);
  if (auto ran = insert->Run("storing a compression dictionary"); !ran) return ran.error();
  return db.LastInsertRowid();
}

void BodyCodec::Install(int64_t id, BodyKind kind, const std::string& dictionary) {
  auto dict = MakeDictionary(id, dictionary);
  std::lock_guard lock(mutex_);
  Collecting& c = collecting_[Slot(kind)];
  c.training = false;
  if (!dict) {
    c.samples.clear();
    c.attempts = kMaxAttempts;  // a dictionary zstd refuses: keep storing text
    return;
  }
  by_id_[id] = dict;
  auto& current = current_[Slot(kind)];
  if (!current || current->id < id) current = dict;
  c.samples.clear();
  c.samples.shrink_to_fit();
}

int64_t BodyCodec::DictionaryOf(BodyKind kind) const {
  std::lock_guard lock(mutex_);
  const auto& d = current_[Slot(kind)];
  return d ? d->id : 0;
}

}  // namespace idsync::store::sqlite
