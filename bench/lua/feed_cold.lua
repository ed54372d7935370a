-- First reads of cold home timelines. The runner bumps the timeline generation (every cached
-- timeline turns cold) right before the run; each wrk thread then walks its own share of the
-- cold_tokens (users no other scenario reads) in order -- thread t reads users t, t+T, t+2T, ... --
-- so no user is read twice until the walk wraps around.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
local n = 0

function request()
  local list = D.cold_tokens
  if list == nil or #list == 0 then list = D.tokens end
  if #list == 0 then return get("/api/v1/feed", nil) end
  local i = (n * nthreads + (tid or 1) - 1) % #list + 1
  n = n + 1
  return get("/api/v1/feed", list[i][2])
end
