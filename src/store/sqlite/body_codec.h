// Compression of the large JSON columns of the SQLite store (issue #5: disk at most twice the
// raw payload).
//
// SCIM bodies are small (~1 KB) and alike: the same attribute names, schema URNs, domains and
// provenance rules in every row. Compressed one by one they shrink by half at most; against a
// zstd dictionary trained on this database's own bodies they shrink ~10x (an Entra-like user of
// 1,040 bytes to ~90). So:
// - a column value is either TEXT (the compact JSON, as every row was before) or a BLOB
//   [format byte 1][dictionary id, 4 bytes little-endian][zstd frame without magic];
// - dictionaries live in the table body_dictionaries (migration 7), one per kind of body, and
//   are never changed or removed, because rows refer to them by id;
// - until a kind has a dictionary, its bodies are stored as text and the first ones written
//   are kept as training samples; once enough are collected the store trains a dictionary on
//   a background thread, stores it, and from then on compresses that kind.
// Old rows stay text and readable; a reader meets both forms and decodes by storage class.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/encoded_body.h"
#include "store/sqlite/database.h"

namespace idsync::store::sqlite {

// The families of bodies (store/encoded_body.h), each with its own dictionary: users' mirror
// bodies (resources.body), effective users' bodies, change-feed resources and causes.
using store::BodyKind;
inline constexpr int kBodyKinds = 3;

struct TrainingSet {
  BodyKind kind;
  std::vector<std::string> samples;
};

class BodyCodec {
 public:
  // `samples_to_train`: bodies of a kind collected before its dictionary is trained.
  explicit BodyCodec(size_t samples_to_train);
  ~BodyCodec();
  BodyCodec(const BodyCodec&) = delete;
  BodyCodec& operator=(const BodyCodec&) = delete;

  // Loads every stored dictionary; the newest of each kind compresses from now on.
  Status Load(Database& db);

  // Binds `text` to parameter `index`: compressed when `kind` has a dictionary and that saves
  // space, as text otherwise (then `text` may become a training sample).
  void Bind(Statement& statement, int index, BodyKind kind, std::string_view text);
  // What Bind would bind, made on any thread (the store's EncodeBody, before a job is queued).
  // A dictionary installed later does not make it stale: every dictionary stays readable.
  EncodedBody Encode(BodyKind kind, std::string_view text);
  static void Bind(Statement& statement, int index, const EncodedBody& encoded);

  // The text of column `column`: TEXT as is, a BLOB decompressed. A dictionary this codec has
  // not loaded (another process trained it) is read through `db`. kInternal for a corrupt
  // value, naming `what`.
  Result<std::string> Read(Database& db, const Statement& row, int column, std::string_view what);

  // A kind whose samples are complete and which has no dictionary and no training under way;
  // nullopt if none. The caller trains (Train), stores (Store) and installs (Install).
  std::optional<TrainingSet> TakeTrainingSet();
  // Called when training failed: collects twice as many samples and tries again, at most
  // three times.
  void TrainingFailed(BodyKind kind);
  // A dictionary for `samples`, or kInternal when zstd cannot train one (too few or too
  // uniform samples).
  static Result<std::string> Train(const std::vector<std::string>& samples);
  // Inserts the dictionary into body_dictionaries in the caller's open write transaction;
  // returns its id.
  static Result<int64_t> Store(Database& db, BodyKind kind, const std::string& dictionary);
  // Makes the stored dictionary `id` the one `kind` compresses with.
  void Install(int64_t id, BodyKind kind, const std::string& dictionary);

  // For tests and metrics: the id `kind` compresses with, 0 when none.
  int64_t DictionaryOf(BodyKind kind) const;

 private:
  struct Dictionary;
  struct Collecting {
    std::vector<std::string> samples;
    size_t bytes = 0;  // of samples
    size_t wanted = 0;
    int attempts = 0;
    bool training = false;
  };

  std::shared_ptr<const Dictionary> Find(int64_t id) const;
  Result<std::shared_ptr<const Dictionary>> LoadOne(Database& db, int64_t id);
  std::shared_ptr<const Dictionary> MakeDictionary(int64_t id, const std::string& bytes);

  mutable std::mutex mutex_;
  std::map<int64_t, std::shared_ptr<const Dictionary>> by_id_;
  std::array<std::shared_ptr<const Dictionary>, kBodyKinds> current_;
  std::array<Collecting, kBodyKinds> collecting_;
};

}  // namespace idsync::store::sqlite
