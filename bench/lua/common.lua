-- Shared by every scenario: the dataset (id ranges, tokens, logins), random picks,
-- per-status counting in response(), and one JSON summary line printed by done().
-- The runner sets BENCH_DATA (the Lua table written by `python -m bench tokens`).

local data_path = os.getenv("BENCH_DATA") or "var/bench/data.lua"
local ok, loaded = pcall(dofile, data_path)
if not ok then
  io.stderr:write("bench: cannot load " .. data_path .. ": " .. tostring(loaded) .. "\n")
  loaded = {users_min = 1, users_max = 1, posts_min = 1, posts_max = 1, hot_posts_min = 1,
            hot_posts_max = 1, comment_posts_min = 1, comment_posts_max = 1,
            tokens = {}, heavy_tokens = {}, logins = {}, tags = {}, password = ""}
end
D = loaded

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919 + math.floor(os.clock() * 1000000))
  statuses = {}
  if scenario_init then scenario_init(args) end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function pick(list)
  if #list == 0 then return nil end
  return list[math.random(#list)]
end

local function between(lo, hi)
  if hi < lo then return lo end
  return math.random(lo, hi)
end

function rand_user() return between(D.users_min, D.users_max) end
function rand_post() return between(D.posts_min, D.posts_max) end
function rand_hot_post() return between(D.hot_posts_min, D.hot_posts_max) end
function rand_comment_post() return between(D.comment_posts_min, D.comment_posts_max) end
-- A seeded hashtag, the more used ones more often (the list is most used first): the lower of two
-- uniform picks leans towards the head like the seed's Zipf vocabulary. "news" without a dataset.
function rand_tag()
  local tags = D.tags or {}
  if #tags == 0 then return "news" end
  return tags[math.min(math.random(#tags), math.random(#tags))]
end

-- A token entry is {user_id, token}; nil when the dataset has none (requests then go anonymous).
function rand_token(list)
  local entry = pick(list or D.tokens)
  if entry == nil then return nil end
  return entry[2]
end

function headers_for(token, json)
  local h = {}
  if token then h["Authorization"] = "Bearer " .. token end
  if json then h["Content-Type"] = "application/json" end
  return h
end

function get(path, token)
  return wrk.format("GET", path, headers_for(token, false))
end

function send_json(method, path, token, body)
  return wrk.format(method, path, headers_for(token, body ~= nil), body)
end

-- The words of created posts: the seeded posts' (data.lua `words`, bench/tokens.py vocabulary), so
-- that new posts read like the seeded ones; a fixed list without them.
local words = (D.words and #D.words > 0) and D.words or {"lorem", "ipsum", "dolor", "sit", "amet", "bench",
               "chatter", "post", "hello", "world", "coffee", "morning", "today", "again", "quick", "brown", "fox"}

function random_text(n)
  local out = {}
  for i = 1, n do out[i] = words[math.random(#words)] end
  return table.concat(out, " ")
end

function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do agg[code] = (agg[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(agg) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p999": %d}, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ", ")))
end
