-- Phase e: GET /Users/{id} for ids picked at random from BENCH_IDS_FILE (one id a line).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local ids
function setup(thread) bench_setup(thread) end
function init(args)
  ids = bench_read_picker(os.getenv("BENCH_IDS_FILE"), function(id)
    return bench_prefix .. "/Users/" .. id
  end)
  math.randomseed(os.time() * 100 + tid)
end
function request()
  return wrk.format("GET", ids.get(math.random(ids.n)), bench_headers)
end
function response(status, headers, body) bench_count(status, body) end
function done(summary, latency, requests) bench_report(summary, latency) end
