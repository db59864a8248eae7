// A JSON body as a store writes it, encoded before the write job is queued (Store::EncodeBody).
// The store's writer runs every write one at a time; serialising a ~2 KB body and compressing
// it is a tenth of a SCIM create's work there, and needs nothing the job reads. So a caller that
// knows the body before it queues its job encodes it on its own thread and hands the result to
// the write (StoredResource::encoded, EffectiveUserRow::encoded, ChangeRecord::encoded_resource),
// which then binds it instead of encoding `body` itself.
#pragma once

#include <memory>
#include <string>

namespace idsync::store {

// The families of bodies a store may encode differently (the SQLite store keeps one zstd
// dictionary per family: what is alike compresses together).
enum class BodyKind : int {
  kMirrorUser = 1,     // a SCIM user's mirror body (groups stay text: SQL reads their displayName)
  kEffectiveUser = 2,  // an effective user's body: values with provenance
  kChange = 3,         // a change-feed record's resource and cause
};

// Opaque outside the store that made it: only that store's writes read it. The contract is the
// caller's: an encoded body handed to a write is EncodeBody of exactly the body it goes with.
struct EncodedBody {
  std::string bytes;
  bool blob = false;  // SQLite: compressed, stored as a BLOB; otherwise the JSON text
};
using EncodedBodyPtr = std::shared_ptr<const EncodedBody>;

}  // namespace idsync::store
