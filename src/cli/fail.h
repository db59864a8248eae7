// How a command reports that it failed: one line on stderr, "idsync: <what to fix>", and exit
// status 1. Every command's file uses it, so the CLI's failures read alike.
#pragma once

#include <cstdio>
#include <string>

namespace idsync::cli {

inline constexpr int kExitFailure = 1;

inline int Fail(const std::string& message) {
  std::fprintf(stderr, "idsync: %s\n", message.c_str());
  return kExitFailure;
}

}  // namespace idsync::cli
