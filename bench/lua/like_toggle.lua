-- Like or unlike (PUT / DELETE, idempotent) a recent post: about half the calls change state.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local method = "PUT"
  if math.random() < 0.5 then method = "DELETE" end
  return send_json(method, "/api/v1/posts/" .. rand_hot_post() .. "/like", rand_token(), nil)
end
