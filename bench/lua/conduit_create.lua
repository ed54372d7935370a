-- A new Conduit article by a random user, with two tags: "bench", shared by every request (the
-- concurrent tag writes that once deadlocked), and one of a few hundred others.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local body = string.format(
    '{"article": {"title": "%s", "description": "%s", "body": "%s", "tagList": ["bench", "t%d"]}}',
    random_text(math.random(3, 8)), random_text(8), random_text(math.random(5, 30)), math.random(300))
  return send_json("POST", "/api/articles", rand_token(), body)
end
