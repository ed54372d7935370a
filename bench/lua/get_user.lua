-- An authenticated read of a random user profile.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/users/" .. rand_user(), rand_token()) end
