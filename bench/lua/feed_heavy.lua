-- The first page of the home timeline of users who follow 1,000 accounts.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local list = D.heavy_tokens
  if #list == 0 then list = D.tokens end
  return get("/api/v1/feed", rand_token(list))
end
