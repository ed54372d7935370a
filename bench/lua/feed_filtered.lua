-- The first page of the home timeline of users who each block and mute 100 accounts (10 of the
-- muted ones among the 100 they follow): the same page as `feed`, with the filters biting.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local list = D.filtered_tokens or {}
  if #list == 0 then list = D.tokens end
  return get("/api/v1/feed", rand_token(list))
end
