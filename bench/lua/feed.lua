-- The first page of the home timeline of a random user (each follows 100 accounts).
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/feed", rand_token()) end
