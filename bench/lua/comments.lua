-- The first page of comments of a post that has some (the seed puts comments on recent posts).
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/posts/" .. rand_comment_post() .. "/comments", rand_token()) end
