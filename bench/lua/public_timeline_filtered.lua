-- The first page of the public timeline as users who each block and mute 100 accounts: the same
-- page as `public_timeline`, without those accounts' posts.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local list = D.filtered_tokens or {}
  if #list == 0 then list = D.tokens end
  return get("/api/v1/posts", rand_token(list))
end
