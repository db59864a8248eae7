// Result<T> and Status: expected failures as values. Spelled like std::expected
// (has_value(), value(), error(), operator*, operator->) so a later move is mechanical.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "base/error.h"

namespace idsync {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}        // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}    // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  const Error& error() const { assert(!has_value()); return std::get<1>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : ok_(false), error_(std::move(error)) {}  // NOLINT
  static Status Ok() { return Status(); }

  bool has_value() const { return ok_; }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  bool ok_ = true;
  Error error_{ErrorCode::kInternal, {}};
};

inline Error MakeError(ErrorCode code, std::string detail) { return Error{code, std::move(detail)}; }

}  // namespace idsync

// Aborts in every build: for invariants whose violation would write wrong data.
#define IDSYNC_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) ::idsync::internal::CheckFailed(#cond, __FILE__, __LINE__);            \
  } while (0)

namespace idsync::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}
