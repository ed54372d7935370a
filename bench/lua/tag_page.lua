-- An authenticated read of a hashtag's first page (GET /api/v1/tags/{tag}/posts): the tag's range
-- of post_hashtags with the viewer's block, mute and state filters, then the page's documents.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/api/v1/tags/" .. rand_tag() .. "/posts", rand_token()) end
