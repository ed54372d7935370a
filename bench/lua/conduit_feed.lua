-- The first page of the Conduit feed (GET /api/articles/feed: articles of the followed users, with
-- articlesCount) of a random user: the Conduit counterpart of feed.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/articles/feed?limit=20", rand_token()) end
