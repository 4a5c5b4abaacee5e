-- wrk script for bench/ingest.py: POST each pre-signed request of a file exactly once.
--
--   wrk -t T -c C -d 120s -s bench/post.lua http://127.0.0.1:PORT/v1/bulletins -- FILE T
--
-- FILE has one line per request, "token<TAB>envelope" (bench/_common.py write_requests).
-- Thread i of T sends lines i, i+T, i+2T, ... . Every token is single use, so a
-- connection that finds its thread's lines all sent asks GET /v1/health once (counted
-- apart) and then waits. When a thread has all its answers it creates FILE.done-<i>;
-- bench/_common.py then interrupts wrk (SIGINT), which makes wrk print its figures.
-- done() prints one line "BENCHJSON {...}": the duration is from the first request
-- sent to the last answer received, not wrk's -d.

local ffi = require("ffi")
ffi.cdef [[
   typedef struct { long tv_sec; long tv_usec; } bench_timeval;
   int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_us()
   ffi.C.gettimeofday(tv, nil)
   return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   path = args[1]
   local nthreads = tonumber(args[2])
   reqs = {}
   local i = 0
   for line in io.lines(path) do
      if i % nthreads == tid then
         local tab = line:find("\t", 1, true)
         reqs[#reqs + 1] = wrk.format("POST", "/v1/bulletins", {
            ["Authorization"] = "Bearer " .. line:sub(1, tab - 1),
            ["Content-Type"] = "application/jose",
         }, line:sub(tab + 1))
      end
      i = i + 1
   end
   nreqs = #reqs
   health = wrk.format("GET", "/v1/health")
   idx = 0
   answered = 0
   status = {}
   first_us = 0
   last_us = 0
   -- wrk calls request() once on thread 0 before the run to check it: give it health
   verifying = (tid == 0)
end

function delay()
   if idx >= nreqs then
      return 3600000 -- all sent: this connection idles
   end
   return 0
end

function request()
   if verifying then
      verifying = false
      return health
   end
   idx = idx + 1
   if idx == 1 then
      first_us = now_us()
   end
   if idx <= nreqs then
      return reqs[idx]
   end
   return health
end

function response(code, headers, body)
   local k = tostring(code)
   status[k] = (status[k] or 0) + 1
   if k ~= "200" or nreqs == 0 then
      answered = answered + 1
      if answered == nreqs then
         last_us = now_us()
         local f = io.open(path .. ".done-" .. tid, "w")
         f:write("done\n")
         f:close()
      end
   end
end

function done(summary, latency, requests)
   local total = {}
   local sent = 0
   local first, last = 0, 0
   for _, t in ipairs(threads) do
      local f, l = t:get("first_us"), t:get("last_us")
      if first == 0 or (f > 0 and f < first) then first = f end
      if l > last then last = l end
      for k, v in pairs(t:get("status")) do
         total[k] = (total[k] or 0) + v
      end
      sent = sent + t:get("nreqs")
   end
   local parts = {}
   for k, v in pairs(total) do
      parts[#parts + 1] = string.format('"%s":%d', k, v)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"duration_us":%d,"requests":%d,"prepared":%d,"status":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d}\n',
      last - first, summary.requests, sent, table.concat(parts, ","),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
