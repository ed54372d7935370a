-- A new post by a random user (including whatever fan-out the feed design does).
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local body = string.format("{\"content\": \"%s\"}", random_text(math.random(5, 30)))
  return send_json("POST", "/api/v1/posts", rand_token(), body)
end
