-- A feed-heavy mix with writes: 55 % feed, 15 % post, 10 % profile, 6 % public timeline,
-- 4 % comments, 6 % like/unlike, 4 % new post.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local r = math.random(100)
  local token = rand_token()
  if r <= 55 then return get("/api/v1/feed", token)
  elseif r <= 70 then return get("/api/v1/posts/" .. rand_post(), token)
  elseif r <= 80 then return get("/api/v1/users/" .. rand_user(), token)
  elseif r <= 86 then return get("/api/v1/posts", token)
  elseif r <= 90 then return get("/api/v1/posts/" .. rand_comment_post() .. "/comments", token)
  elseif r <= 96 then
    local method = "PUT"
    if math.random() < 0.5 then method = "DELETE" end
    return send_json(method, "/api/v1/posts/" .. rand_hot_post() .. "/like", token, nil)
  end
  local body = string.format("{\"content\": \"%s\"}", random_text(math.random(5, 30)))
  return send_json("POST", "/api/v1/posts", token, body)
end
