-- PATCH /scim/v2/Groups/{id}: add one member, then remove it, as Entra ID sends them
-- (op "Add"/"Remove", path "members", the member in "value"; no attributes parameter).
-- Members come in turn from a pool of users who are not in the group.
-- Args: GROUP_ID POOL_IDS_FILE [STYLE]
--   STYLE "entra" (default) removes with {"path":"members","value":[{"value":ID}]};
--   "rfc" removes with {"path":"members[value eq \"ID\"]"} (RFC 7644 §3.5.2.2), for
--   servers that refuse Entra's form.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local group, pool, style, headers
local counter = 0
local patch_op = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['

function setup(thread) common.number_threads(thread) end

function init(args)
  group = args[1]
  pool = common.read_lines(args[2])
  style = args[3] or "entra"
  headers = common.headers(common.scim_json)
end

local function body(adding, id)
  if adding then
    return patch_op .. '{"op":"Add","path":"members","value":[{"value":"' .. id .. '"}]}]}'
  end
  if style == "rfc" then
    return patch_op .. '{"op":"Remove","path":"members[value eq \\"' .. id .. '\\"]"}]}'
  end
  return patch_op .. '{"op":"Remove","path":"members","value":[{"value":"' .. id .. '"}]}]}'
end

-- Request 2k adds pool member k, request 2k+1 removes it again.
function request()
  local id = pool[math.floor(counter / 2) % #pool + 1]
  local adding = counter % 2 == 0
  counter = counter + 1
  return wrk.format("PATCH", "/scim/v2/Groups/" .. group, headers, body(adding, id))
end
