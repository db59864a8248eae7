// What this binary is: its version (CMake project(VERSION)), the git commit it was built from
// and the versions of the libraries it runs with, for `idsync version`, `--version` and the
// idsync_build_info metric.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/json.h"

namespace idsync::cli {

struct BuildInfo {
  std::string version;
  std::string commit;
  // Library name -> version, in a fixed order. Read from the library at run time where it
  // offers a call for it (so an upgraded shared library shows its own version); Boost is
  // header-only here and reports the version compiled against.
  std::vector<std::pair<std::string, std::string>> libraries;
};

const BuildInfo& GetBuildInfo();

// "idsync 0.1.0 (commit abc) \n sqlite 3.40.1 \n ..." one library a line.
std::string BuildInfoText();
Json BuildInfoJson();
// Prometheus text: idsync_build_info{version="...",commit="...",sqlite="..."} 1
std::string BuildInfoMetric();

}  // namespace idsync::cli
