-- The first page of the Conduit article list (GET /api/articles, with articlesCount), as a
-- logged-in viewer: the Conduit counterpart of public_timeline.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/articles?limit=20", rand_token()) end
