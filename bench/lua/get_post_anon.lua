-- The same read as get_post without a token: the cost of authentication is the difference.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/posts/" .. rand_post(), nil) end
