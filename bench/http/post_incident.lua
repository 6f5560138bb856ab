-- wrk script: each request posts a small valid incident with a unique event id, so every
-- request is a real durable append (no idempotent short-cut). Station ids come from the
-- environment (EWARN_STATIONS, comma-separated), token from EWARN_TOKEN.
local counter = 0
local thread_id = 0
local stations = {}
for s in string.gmatch(os.getenv("EWARN_STATIONS") or "S1", "([^,]+)") do
  stations[#stations + 1] = s
end
local token = os.getenv("EWARN_TOKEN") or ""

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  math.randomseed(tid)
end

-- occurred_at is the current time: an old fixed date made every incident "late" for the
-- processors, which then dead-lettered each one (a second durable append per request).
-- The date string is formatted once a second, not per request: the generator shares the 2 cores.
local last_second, occurred_at = -1, ""
request = function()
  counter = counter + 1
  local station = stations[(counter % #stations) + 1]
  local now = os.time()
  if now ~= last_second then
    last_second, occurred_at = now, os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  end
  local body = string.format(
    '{"event_id":"wrk-%d-%d","occurred_at":"%s","station_id":"%s",' ..
    '"category":"intimidation","severity":3,"description":"party agents turned away"}',
    tid, counter, occurred_at, station)
  return wrk.format("POST", "/v1/incidents",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
