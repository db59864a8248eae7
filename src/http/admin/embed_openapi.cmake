# Writes OUT, a C++ file defining idsync::http::AdminOpenApiDocument() as the bytes of IN
# (openapi.json). Run at build time (cmake -P), so an edit of the JSON rebuilds the binary and
# the served document is the repository file byte for byte. Bytes rather than a raw string
# literal: no delimiter can clash and -Wpedantic's length limit for literals does not apply.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# One line of bytes per line of JSON, so the generated file stays readable.
string(REPLACE "0x0a," "0x0a,\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "// Generated from src/http/admin/openapi.json by embed_openapi.cmake. Do not edit.\n"
  "#include <string_view>\n\n"
  "#include \"http/admin/admin_api.h\"\n\n"
  "namespace idsync::http {\n"
  "namespace {\n"
  "constexpr unsigned char kOpenApi[${size} + 1] = {\n    ${bytes}0x00};\n"
  "}  // namespace\n\n"
  "std::string_view AdminOpenApiDocument() {\n"
  "  return {reinterpret_cast<const char*>(kOpenApi), ${size}};\n"
  "}\n\n"
  "}  // namespace idsync::http\n")
file(RENAME "${OUT}.tmp" "${OUT}")
