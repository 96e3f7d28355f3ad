-- GET /scim/v2/Users/{id} for a random seeded id.  Args: IDS_FILE
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local ids

function setup(thread) common.number_threads(thread) end

function init(args)
  common.seed_random()
  ids = common.read_lines(args[1])
end

function request()
  return wrk.format("GET", "/scim/v2/Users/" .. ids[math.random(#ids)])
end
