-- An authenticated read of a random post.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/posts/" .. rand_post(), rand_token()) end
