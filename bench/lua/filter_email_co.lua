-- GET /scim/v2/Users?filter=emails.value co "<random index>@".  Args: COUNT
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local count

function setup(thread) common.number_threads(thread) end

function init(args)
  common.seed_random()
  count = tonumber(args[1]) or 1000
end

function request()
  local filter = 'emails.value co "' .. math.random(0, count - 1) .. '@"'
  return wrk.format("GET", "/scim/v2/Users?filter=" .. common.urlencode(filter))
end
