-- Search: GET /api/v1/search with queries made of words of the seeded posts (one word, two words,
-- a phrase, a word minus another) and username prefixes: the `search` list of the dataset
-- (bench/tokens.py), authenticated. Popularity is skewed as real search traffic is: query i of
-- the n is drawn as floor(n ^ u) for a uniform u (log-uniform: the first queries are asked often,
-- most of the list now and then), so the server's result cache sees repeats and misses alike.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

function request()
  local list = D.search or {}
  if #list == 0 then return get("/api/v1/search?q=search", rand_token()) end
  local i = math.floor((#list) ^ math.random())
  if i < 1 then i = 1 end
  if i > #list then i = #list end
  return get(list[i], rand_token())
end
