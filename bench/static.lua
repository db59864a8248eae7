-- Phase a: the HTTP ceiling. GET /bench/static returns a fixed ~1 KiB JSON body without
-- touching the store (serve --bench-routes). The response() hook is the same as in the
-- store-backed phases so that the client costs the same per request everywhere.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local req
function setup(thread) bench_setup(thread) end
function init(args) req = wrk.format("GET", "/bench/static", bench_headers) end
function request() return req end
function response(status, headers, body) bench_count(status, body) end
function done(summary, latency, requests) bench_report(summary, latency) end
