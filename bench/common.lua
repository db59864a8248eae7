-- Shared helpers for the wrk scripts of bench/run.sh. Each wrk thread loads this file
-- (dofile) into its own Lua state; so does the setup/done state.
--
-- Configuration comes from environment variables set by bench/bench.py, because they are
-- visible in every Lua state (init() arguments reach only the running threads):
--   BENCH_DIR      this directory
--   BENCH_TOKEN    bearer token of the "bench" connection
--   BENCH_PREFIX   path of the SCIM base URL, e.g. /scim/v2
--   BENCH_PHASE    name printed in the result line
-- done() prints one line "BENCHJSON {...}" that bench.py parses.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec* tp);
]]
local ts = ffi.new("bench_timespec")

-- Monotonic seconds with nanosecond resolution (os.time() has one-second resolution).
function bench_now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

bench_token = os.getenv("BENCH_TOKEN") or ""
bench_prefix = os.getenv("BENCH_PREFIX") or "/scim/v2"
bench_phase = os.getenv("BENCH_PHASE") or "phase"

bench_headers = {
  ["Authorization"] = "Bearer " .. bench_token,
  ["Accept"] = "application/scim+json",
}
bench_json_headers = {
  ["Authorization"] = "Bearer " .. bench_token,
  ["Accept"] = "application/scim+json",
  ["Content-Type"] = "application/scim+json",
}

-- The lines of a file (ids, userNames), each passed through `transform` if given, for picking
-- at random: picker.n lines, picker.get(i) the i-th (1-based). Fails loudly: a phase without
-- its input would measure nothing.
--
-- The lines are kept as one string plus FFI offset arrays, not as a table of strings. With a
-- table of a million strings, wrk's own garbage collection stalled its threads: at 1,000,000
-- users wrk measured a GET p99 of 60-277 ms while the server's latency histogram (/metrics)
-- had every GET under 10 ms. On the same server and data this picker measured 3.3 ms, and a
-- table of 100,000 strings 2.1 ms.
function bench_read_picker(path, transform)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local text = f:read("*a")
  f:close()
  if transform then
    local parts = {}
    for line in text:gmatch("[^\n]+") do parts[#parts + 1] = transform(line) end
    text = table.concat(parts, "\n")
    parts = nil
  end
  local n = 0
  for _ in text:gmatch("()[^\n]+") do n = n + 1 end
  assert(n > 0, "no lines in " .. path)
  local first = ffi.new("int32_t[?]", n + 1)
  local last = ffi.new("int32_t[?]", n + 1)
  local i = 0
  for s, e in text:gmatch("()[^\n]+()") do
    i = i + 1
    first[i] = s
    last[i] = e - 1
  end
  collectgarbage()  -- the transform's garbage goes now, before any request is timed
  return {
    n = n,
    get = function(k) return string.sub(text, first[k], last[k]) end,
  }
end

-- Percent-encoding for a query-string value (RFC 3986 unreserved characters kept).
function bench_urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function encode(v)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local parts = {}
    if #v > 0 then
      for _, x in ipairs(v) do parts[#parts + 1] = encode(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "nil" then
    return "null"
  end
  local s = tostring(v):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end
bench_json = encode

-- Per-thread status accounting, used by every script's response() so that every phase
-- (including the HTTP ceiling) pays the same client-side cost.
status_2xx = 0
status_other = 0
status_codes = ""   -- "code:count," pairs, built at the end of the thread
err_sample = ""     -- first few error responses, for the report
local codes = {}
local samples = 0

function bench_count(status, body)
  if status >= 200 and status < 300 then
    status_2xx = status_2xx + 1
  else
    status_other = status_other + 1
    codes[status] = (codes[status] or 0) + 1
    if samples < 3 then
      samples = samples + 1
      err_sample = err_sample .. status .. " " .. string.sub(body or "", 1, 300) .. "\n"
    end
    local parts = {}
    for k, v in pairs(codes) do parts[#parts + 1] = k .. ":" .. v end
    status_codes = table.concat(parts, ",")
  end
end

-- The setup/done side: remember threads so that done() can read their counters.
bench_threads = {}
local next_tid = 0
function bench_setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  bench_threads[#bench_threads + 1] = thread
end

-- Builds the result line from wrk's summary and latency histogram plus per-thread counters.
-- `extra` may add fields. Latencies are reported in milliseconds.
function bench_report(summary, latency, extra)
  local r = {
    phase = bench_phase,
    requests = summary.requests,
    duration_s = summary.duration / 1e6,
    rps = summary.requests / (summary.duration / 1e6),
    p50_ms = latency:percentile(50) / 1000,
    p90_ms = latency:percentile(90) / 1000,
    p99_ms = latency:percentile(99) / 1000,
    p999_ms = latency:percentile(99.9) / 1000,
    max_ms = latency.max / 1000,
    mean_ms = latency.mean / 1000,
    err_connect = summary.errors.connect,
    err_read = summary.errors.read,
    err_write = summary.errors.write,
    err_status = summary.errors.status,
    err_timeout = summary.errors.timeout,
  }
  local ok, other, codes_s, samples_s = 0, 0, "", ""
  for _, t in ipairs(bench_threads) do
    ok = ok + (t:get("status_2xx") or 0)
    other = other + (t:get("status_other") or 0)
    local c = t:get("status_codes") or ""
    if c ~= "" then codes_s = codes_s .. c .. ";" end
    samples_s = samples_s .. (t:get("err_sample") or "")
  end
  r.status_2xx = ok
  r.status_other = other
  r.status_codes = codes_s
  r.err_sample = samples_s
  if extra then
    for k, v in pairs(extra) do r[k] = v end
  end
  io.write("BENCHJSON " .. encode(r) .. "\n")
  io.flush()
end
