// Server log: one line per event on stderr, through spdlog. JSON (one object per line with
// time, level, msg and the event's fields) or text ("time level msg key=value ...").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idsync::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kJson, kText };

using Fields = std::vector<std::pair<std::string, std::string>>;

std::optional<Level> ParseLevel(std::string_view name);    // debug|info|warn|error
std::optional<Format> ParseFormat(std::string_view name);  // json|text
// JSON when stderr is not a terminal, text when it is.
Format DefaultFormat();

// Thread-safe; may be called again at run time (e.g. a new level on reload).
void Configure(Format format, Level level);
void SetLevel(Level level);

void Write(Level level, std::string_view msg, const Fields& fields = {});
// The JSON form of one line: {"time":…,"level":…,"msg":…, then the fields in order}; a key given
// twice keeps its first place and its last value.
std::string JsonLine(std::string_view time, std::string_view level, std::string_view msg,
                     const Fields& fields);
inline void Debug(std::string_view msg, const Fields& f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, const Fields& f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const Fields& f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const Fields& f = {}) { Write(Level::kError, msg, f); }

}  // namespace idsync::log
