-- GET /scim/v2/Users?filter=<attribute> eq "<value of a random seeded user>".
-- Args: ATTRIBUTE (userName | externalId) COUNT
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local attribute, count

function setup(thread) common.number_threads(thread) end

function init(args)
  common.seed_random()
  attribute = args[1] or "userName"
  count = tonumber(args[2]) or 1000
end

local function value(i)
  if attribute == "externalId" then return "ext-" .. i end
  return "user" .. i .. "@bench.test"
end

function request()
  local filter = attribute .. ' eq "' .. value(math.random(0, count - 1)) .. '"'
  return wrk.format("GET", "/scim/v2/Users?filter=" .. common.urlencode(filter))
end
