-- wrk script for Lotse's load tests (loadtest/run.ts sets the environment).
--
--   LOTSE_PATHS   file with one request path (and query) per line; requests rotate through it
--   LOTSE_TOKEN   bearer token (optional)
--   LOTSE_METHOD  GET (default) or POST
--   LOTSE_BODY    request body for POST
--   LOTSE_CONTENT_TYPE  the body's Content-Type (default application/json)
--   LOTSE_HEADERS further headers, one "Name: value" per line
--
-- Requests are formatted once in init(), so wrk's own cost per request stays that of a
-- plain run. done() prints one line "WRK_JSON {...}" with the counts and the latency
-- percentiles (microseconds) that wrk's --latency table leaves out (p99.9).

local paths_file = os.getenv("LOTSE_PATHS")
local token = os.getenv("LOTSE_TOKEN")
local method = os.getenv("LOTSE_METHOD") or "GET"
local body = os.getenv("LOTSE_BODY")
local content_type = os.getenv("LOTSE_CONTENT_TYPE")
local extra_headers = os.getenv("LOTSE_HEADERS")

local prepared = {}
local next_index = 0

function init(args)
  local headers = {}
  if token ~= nil and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  if extra_headers ~= nil then
    for name, value in string.gmatch(extra_headers, "([^:\n]+):%s*([^\n]*)") do
      headers[name] = value
    end
  end
  if body ~= nil and body ~= "" then
    if content_type ~= nil and content_type ~= "" then
      headers["Content-Type"] = content_type
    else
      headers["Content-Type"] = "application/json"
    end
  else
    body = nil
  end
  if paths_file ~= nil and paths_file ~= "" then
    for line in io.lines(paths_file) do
      if line ~= "" then
        prepared[#prepared + 1] = wrk.format(method, line, headers, body)
      end
    end
  end
  if #prepared == 0 then
    prepared[1] = wrk.format(method, nil, headers, body)
  end
end

function request()
  next_index = next_index + 1
  if next_index > #prepared then
    next_index = 1
  end
  return prepared[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latencyUs":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
