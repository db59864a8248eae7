-- Phase c: POST /Users with Entra ID-like ~1 KB bodies until BENCH_USERS users exist.
--
-- Each thread creates its share (userName "bench.t<tid>.u<n>@contoso.example", unique per
-- request). When a thread has sent its share, delay() parks its connections (no further
-- requests, so the latency histogram holds creates only) until every create has been
-- answered; then the thread stops and writes BENCH_DONE_DIR/done.<tid>. bench.py sends wrk
-- SIGINT once all threads have written theirs (wrk otherwise sleeps for its -d).
--
-- wrk calls request() once on thread 0 before it starts, only to check the request
-- (script_verify_request); that call must not count as a create, or thread 0 waits forever
-- for an answer to a request that was never sent.
-- Every 100 answers a thread also writes BENCH_DONE_DIR/progress.<tid>.
-- The create rate is measured by the threads themselves: created / (last answer - first send).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local total = tonumber(os.getenv("BENCH_USERS"))
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local done_dir = os.getenv("BENCH_DONE_DIR")
local verifying = false

quota = 0
sent = 0
created = 0
failed = 0
bytes_sent = 0
t_start = 0
t_end = 0
local finished = false

function setup(thread) bench_setup(thread) end

function init(args)
  quota = math.floor(total / nthreads) + ((tid < total % nthreads) and 1 or 0)
  verifying = (tid == 0)
  if quota == 0 then finish(false) end
end

local schemas = '"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",' ..
                '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]'

local function body_for(n)
  local u = "bench.t" .. tid .. ".u" .. n
  local num = tid * 10000000 + n
  local ext = string.format("%08x-%04x-4%03x-8%03x-%012x", num, tid, n % 4096, (n * 7) % 4096, num)
  local mgr = string.format("%08x-0000-4000-8000-%012x", tid, math.max(n - 1, 0))
  return '{' .. schemas ..
    ',"externalId":"' .. ext .. '"' ..
    ',"userName":"' .. u .. '@contoso.example"' ..
    ',"active":true' ..
    ',"displayName":"Bench User ' .. tid .. '-' .. n .. '"' ..
    ',"title":"Software Engineer"' ..
    ',"preferredLanguage":"en-US"' ..
    ',"name":{"formatted":"Bench User ' .. n .. '","familyName":"User' .. n .. '","givenName":"Bench"}' ..
    ',"emails":[{"type":"work","value":"' .. u .. '@contoso.example","primary":true}]' ..
    ',"phoneNumbers":[{"type":"work","value":"+1 425 555 ' .. string.format("%04d", n % 10000) .. '"},' ..
      '{"type":"mobile","value":"+1 206 555 ' .. string.format("%04d", (n * 3) % 10000) .. '"}]' ..
    ',"addresses":[{"type":"work","formatted":"1 Microsoft Way\\nRedmond, WA 98052\\nUS",' ..
      '"streetAddress":"1 Microsoft Way","locality":"Redmond","region":"WA",' ..
      '"postalCode":"98052","country":"US","primary":true}]' ..
    ',"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{' ..
      '"employeeNumber":"' .. num .. '","department":"Department ' .. (n % 50) .. '",' ..
      '"costCenter":"CC-' .. (n % 200) .. '","organization":"Contoso","division":"Engineering",' ..
      '"manager":{"value":"' .. mgr .. '"}}' ..
    '}'
end

function delay()
  if sent >= quota then return 3600000 end
  return 0
end

function request()
  if verifying then
    verifying = false
    return wrk.format("GET", "/bench/static", bench_headers)
  end
  if sent >= quota then
    -- Not sent while delay() holds the connection; only reached if the thread outlives it.
    return wrk.format("GET", "/bench/static", bench_headers)
  end
  if sent == 0 then t_start = bench_now() end
  sent = sent + 1
  local body = body_for(sent)
  bytes_sent = bytes_sent + #body
  return wrk.format("POST", bench_prefix .. "/Users", bench_json_headers, body)
end

function finish(stop)
  if finished then return end
  finished = true
  t_end = bench_now()
  local f = io.open(done_dir .. "/done." .. tid, "w")
  if f then f:write(created .. "\n"); f:close() end
  if stop ~= false then wrk.thread:stop() end
end

function response(status, headers, body)
  if status == 200 then return end  -- not a create (see request())
  bench_count(status, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
  local answered = created + failed
  if answered >= quota then
    finish()
  elseif answered % 100 == 0 then
    -- Progress for bench.py, which gives up on a phase that stops advancing.
    local f = io.open(done_dir .. "/progress." .. tid, "w")
    if f then f:write(answered .. "\n"); f:close() end
  end
end

function done(summary, latency, requests)
  local c, f, b, s0, s1 = 0, 0, 0, math.huge, 0
  for _, t in ipairs(bench_threads) do
    c = c + (t:get("created") or 0)
    f = f + (t:get("failed") or 0)
    b = b + (t:get("bytes_sent") or 0)
    local ts, te = t:get("t_start") or 0, t:get("t_end") or 0
    if ts > 0 and ts < s0 then s0 = ts end
    if te > s1 then s1 = te end
  end
  local elapsed = (s1 > s0) and (s1 - s0) or 0
  bench_report(summary, latency, {
    created = c, failed = f, payload_bytes = b, create_seconds = elapsed,
    creates_per_s = elapsed > 0 and c / elapsed or 0,
  })
end
