-- Search: GET /api/v1/search with queries made of words of the seeded posts (one word, two words,
-- a phrase, a word minus another) and username prefixes: the `search` list of the dataset
-- (bench/tokens.py), authenticated.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local path = pick(D.search or {}) or "/api/v1/search?q=search"
  return get(path, rand_token())
end
