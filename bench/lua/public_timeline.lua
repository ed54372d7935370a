-- The first page of the public timeline (every post, newest first), as a logged-in viewer.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/posts", rand_token()) end
