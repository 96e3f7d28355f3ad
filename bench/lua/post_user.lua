-- POST /scim/v2/Users with a userName unique to this run, thread and request.
-- Args: RUN_TAG (so a second run against the same database creates new names)
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local tag, headers
local counter = 0

function setup(thread) common.number_threads(thread) end

function init(args)
  tag = (args[1] or tostring(os.time())) .. "-" .. tostring(tid or 0)
  headers = common.headers(common.scim_json)
end

function request()
  counter = counter + 1
  local key = tag .. "-" .. counter
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
    .. '"userName":"post-' .. key .. '@bench.test",'
    .. '"externalId":"post-' .. key .. '",'
    .. '"name":{"givenName":"Post","familyName":"' .. key .. '"},'
    .. '"emails":[{"value":"post-' .. key .. '@bench.example.com","type":"work","primary":true}],'
    .. '"active":true}'
  return wrk.format("POST", "/scim/v2/Users", headers, body)
end
