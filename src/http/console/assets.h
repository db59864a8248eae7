// The console's built front-end (web/, bundled by esbuild at build time), embedded in the
// binary by embed_assets.cmake so that one file deploys the server and its console.
#pragma once

#include <string_view>

namespace idsync::http::console {

struct Asset {
  std::string_view path;          // below /console/, e.g. "index.html", "assets/app.js"
  std::string_view content_type;  // with charset for text
  std::string_view body;
};

// The asset at `path`, nullptr if there is none. Thread-safe (static data).
const Asset* FindAsset(std::string_view path);

}  // namespace idsync::http::console
