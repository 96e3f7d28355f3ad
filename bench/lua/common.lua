-- Shared by the workload scripts: loaded with dofile() from the script's own directory.
-- Each wrk thread has its own Lua state, so everything here is per thread.
local common = {}

-- A distinct random sequence per wrk thread (setup() hands each thread its number).
function common.seed_random()
  local tid = tonumber(tid) or 0
  math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
  math.random(); math.random()
end

function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  file:close()
  assert(#lines > 0, "no lines in " .. path)
  return lines
end

-- wrk.format() replaces wrk.headers when given a table, so copy the -H headers in.
function common.headers(extra)
  local out = {}
  for name, value in pairs(wrk.headers) do out[name] = value end
  for name, value in pairs(extra or {}) do out[name] = value end
  return out
end

function common.urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Number each thread so scripts can make per-thread unique values.
local threads = 0
function common.number_threads(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

common.scim_json = { ["Content-Type"] = "application/scim+json" }

return common
