-- One Conduit article by its slug (GET /api/articles/{slug}), as a logged-in viewer: the Conduit
-- counterpart of get_post. Seeded articles have no stored slug (they answer to
-- "<slugified title>-<id>"), so each thread first reads one list page of 100 at a random offset
-- and keeps the slugs it finds; until they arrive its requests read a one-article list page.
-- Those few list requests are counted too.
local dir = os.getenv("BENCH_LUA_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
dofile(dir .. "/common.lua")

local slugs = {}
local harvests = 0

function request()
  if harvests < 1 then
    harvests = harvests + 1
    return get("/api/articles?limit=100&offset=" .. math.random(0, 1000), rand_token())
  end
  if #slugs == 0 then return get("/api/articles?limit=1", rand_token()) end
  return get("/api/articles/" .. slugs[math.random(#slugs)], rand_token())
end

local count_status = response
function response(status, headers, body)
  count_status(status, headers, body)
  if #slugs < 50 and body then
    for slug in string.gmatch(body, '"slug": ?"([^"]+)"') do table.insert(slugs, slug) end
  end
end
