-- Password logins of random seeded users (bcrypt on the server: slow by design).
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local body = string.format("{\"login\": \"%s\", \"password\": \"%s\"}", pick(D.logins) or "nobody", D.password)
  return send_json("POST", "/api/v1/auth/login", nil, body)
end
