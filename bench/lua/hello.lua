-- The ceiling: a bare aiohttp handler returning a small JSON (python -m bench hello-server).
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request() return get("/", nil) end
