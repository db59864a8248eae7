# Writes OUT, a C++ file defining idsync::http::console::FindAsset() over the files FILES
# (a comma-separated list of paths relative to ROOT, the console's built front-end). Run at build time
# (cmake -P) after the front-end build, so the binary serves exactly what esbuild wrote.
# Bytes rather than raw string literals, as embed_openapi.cmake does: no delimiter can clash
# and -Wpedantic's length limit for literals does not apply.
string(REPLACE "," ";" FILES "${FILES}")
set(arrays "")
set(entries "")
set(i 0)
foreach(rel ${FILES})
  file(READ "${ROOT}/${rel}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPLACE "0x0a," "0x0a,\n    " bytes "${bytes}")
  if(rel MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(rel MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(rel MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(rel MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_assets.cmake: no content type for ${rel}")
  endif()
  string(APPEND arrays "constexpr unsigned char kAsset${i}[${size} + 1] = {\n    ${bytes}0x00};\n")
  string(APPEND entries "    {\"${rel}\", \"${type}\", {reinterpret_cast<const char*>(kAsset${i}), ${size}}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}.tmp"
  "// Generated from the console's front-end build (web/) by embed_assets.cmake. Do not edit.\n"
  "#include <string_view>\n\n"
  "#include \"http/console/assets.h\"\n\n"
  "namespace idsync::http::console {\n"
  "namespace {\n"
  "${arrays}"
  "const Asset kAssets[] = {\n${entries}};\n"
  "}  // namespace\n\n"
  "const Asset* FindAsset(std::string_view path) {\n"
  "  for (const Asset& asset : kAssets) {\n"
  "    if (asset.path == path) return &asset;\n"
  "  }\n"
  "  return nullptr;\n"
  "}\n\n"
  "}  // namespace idsync::http::console\n")
file(RENAME "${OUT}.tmp" "${OUT}")
