-- PATCH /scim/v2/Users/{random id}: replace active with true or false.  Args: IDS_FILE
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local ids, headers
local bodies = {}
for _, value in ipairs({ "true", "false" }) do
  bodies[#bodies + 1] = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    .. '"Operations":[{"op":"replace","path":"active","value":' .. value .. '}]}'
end

function setup(thread) common.number_threads(thread) end

function init(args)
  common.seed_random()
  ids = common.read_lines(args[1])
  headers = common.headers(common.scim_json)
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("PATCH", "/scim/v2/Users/" .. id, headers, bodies[math.random(2)])
end
