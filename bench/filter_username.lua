-- Phase f: GET /Users?filter=userName eq "<random existing userName>" (URL-encoded), the
-- lookup Entra ID and Okta make before every create. Checks that each answer finds one user.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local paths
found_one = 0
found_other = 0
function setup(thread) bench_setup(thread) end
function init(args)
  paths = bench_read_picker(os.getenv("BENCH_NAMES_FILE"), function(name)
    return bench_prefix .. "/Users?filter=" .. bench_urlencode('userName eq "' .. name .. '"')
  end)
  math.randomseed(os.time() * 100 + tid)
end
function request()
  return wrk.format("GET", paths.get(math.random(paths.n)), bench_headers)
end
function response(status, headers, body)
  bench_count(status, body)
  if status == 200 then
    if string.find(body, '"totalResults"%s*:%s*1[,}%s]') then
      found_one = found_one + 1
    else
      found_other = found_other + 1
    end
  end
end
function done(summary, latency, requests)
  local one, other = 0, 0
  for _, t in ipairs(bench_threads) do
    one = one + (t:get("found_one") or 0)
    other = other + (t:get("found_other") or 0)
  end
  bench_report(summary, latency, {found_one = one, found_other = other})
end
