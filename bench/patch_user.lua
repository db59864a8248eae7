-- Phase g: PATCH /Users/{random id} with a PatchOp that replaces displayName or active,
-- alternately (Entra ID's commonest update). Every request is a durable write.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local ids, n
function setup(thread) bench_setup(thread) end
function init(args)
  ids = bench_read_picker(os.getenv("BENCH_IDS_FILE"), function(id)
    return bench_prefix .. "/Users/" .. id
  end)
  n = 0
  math.randomseed(os.time() * 100 + tid + 7)
end
function request()
  n = n + 1
  local op
  if n % 2 == 0 then
    op = '{"op":"replace","value":{"displayName":"Patched ' .. tid .. '-' .. n .. '"}}'
  else
    op = '{"op":"Replace","path":"active","value":' .. ((n % 4 == 1) and "false" or "true") .. '}'
  end
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
               op .. ']}'
  return wrk.format("PATCH", ids.get(math.random(ids.n)), bench_json_headers, body)
end
function response(status, headers, body) bench_count(status, body) end
function done(summary, latency, requests) bench_report(summary, latency) end
