"""Access tokens for the load scripts: sessions minted straight in the bench database.

Logging 1,000 users in through the API would cost 1,000 bcrypt hashes (~5 min); a session row
plus `server.auth.encode_token` with the server's own secret gives the very same tokens.
Tokens are minted at the start of every run (access tokens expire), and written both as
JSON (for the WebSocket client) and as a Lua table (for wrk).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pymysql

from server.auth import encode_token
from server.config import Config

USER_AGENT = "chatter-bench"
TOKEN_TTL = 6 * 3600  # long enough for a full `make bench`


def _ranges(cur) -> dict:
    out = {}
    for table in ("users", "posts"):
        cur.execute(f"SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM `{table}`")  # noqa: S608
        lo, hi = cur.fetchone()
        out[table] = (int(lo), int(hi))
    cur.execute("SELECT COALESCE(MIN(post_id), 0), COALESCE(MAX(post_id), 0) FROM comments")
    lo, hi = cur.fetchone()
    out["comment_posts"] = (int(lo), int(hi))
    return out


FILTERED_USERS = 100  # users who block and mute others (feed_filtered, public_timeline_filtered)
FILTER_SIZE = 100  # accounts each of them blocks, and as many they mute
FILTER_FOLLOWED_MUTES = 10  # of the mutes, accounts they follow (their posts leave the home feed)


def _block_and_mute(cur, rng: random.Random, users: list[int], lo: int, hi: int, size: int) -> None:
    """Each user blocks `size` accounts they have no follow with either way (as a block leaves it)
    and mutes `size` others, FILTER_FOLLOWED_MUTES of them among the accounts they follow. Rows
    of earlier runs go first: the bench database holds no other blocks or mutes."""
    cur.execute("DELETE FROM blocks")
    cur.execute("DELETE FROM mutes")
    blocks, mutes = [], []
    for user in users:
        cur.execute("SELECT followee_id FROM follows WHERE follower_id = %s", (user,))
        followed = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT follower_id FROM follows WHERE followee_id = %s", (user,))
        related = set(followed) | {r[0] for r in cur.fetchall()} | {user}
        muted = set(rng.sample(followed, min(FILTER_FOLLOWED_MUTES, len(followed))))
        blocked: set[int] = set()
        for target, want in ((blocked, size), (muted, size)):
            tries = 0
            while len(target) < want and tries < want * 20:
                tries += 1
                other = rng.randint(lo, hi)
                if other not in related and other not in blocked and other not in muted:
                    target.add(other)
        blocks += [(user, t) for t in sorted(blocked)]
        mutes += [(user, t) for t in sorted(muted)]
    if blocks:
        cur.executemany("INSERT INTO blocks (user_id, target_id) VALUES (%s, %s)", blocks)
    if mutes:
        cur.executemany("INSERT INTO mutes (user_id, target_id) VALUES (%s, %s)", mutes)


SEARCH_SAMPLE = 400  # posts whose words make the search scenario's queries
_SEARCH_WORD = re.compile(r"[a-z]{4,}")


def _url_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def search_paths(cur, rng: random.Random, lo: int, hi: int, users: tuple[int, int],
                 sample: int = SEARCH_SAMPLE) -> list[str]:
    """Request paths for the search scenario, from the words of random seeded posts (so every query
    is made of words that occur, common ones as often as they are common): one word (40 %), two
    words of one post (25 %), a phrase of two neighbouring words (10 %), a word minus another (10 %),
    and a username prefix of 2-4 letters (15 %)."""
    if hi < lo:
        return []
    ids = sorted({rng.randint(lo, hi) for _ in range(sample)})
    cur.execute("SELECT CONCAT_WS(' ', title, content) FROM posts WHERE id IN %s", (ids,))
    texts = [_SEARCH_WORD.findall(r[0].lower()) for r in cur.fetchall()]
    texts = [t for t in texts if len(t) >= 3]
    names: list[str] = []
    if users[1] >= users[0]:
        cur.execute("SELECT username FROM users WHERE id IN %s",
                    (sorted({rng.randint(*users) for _ in range(sample // 4)}),))
        names = [r[0] for r in cur.fetchall()]
    paths = []
    for words in texts:
        roll = rng.random()
        if roll < 0.40:
            q = rng.choice(words)
        elif roll < 0.65:
            q = " ".join(rng.sample(words, 2))
        elif roll < 0.75:
            i = rng.randrange(len(words) - 1)
            q = f'"{words[i]} {words[i + 1]}"'
        elif roll < 0.85 or not names:
            a, b = rng.sample(words, 2)
            q = f"{a} -{b}"
        else:
            name = rng.choice(names)
            paths.append(f"/api/v1/search?type=users&q={_url_quote(name[:rng.randint(2, 4)])}")
            continue
        paths.append(f"/api/v1/search?q={_url_quote(q)}")
    return paths


def vocabulary(cur, rng: random.Random, lo: int, hi: int, sample: int = 200, limit: int = 2000) -> list[str]:
    """Words of random seeded posts, for the text of the posts the write scenarios create: new posts
    then read like the seeded ones, and search's index of the newest posts (which those scenarios
    fill) matches the search scenario's words as the seeded posts do."""
    if hi < lo:
        return []
    ids = sorted({rng.randint(lo, hi) for _ in range(sample)})
    cur.execute("SELECT content FROM posts WHERE id IN %s", (ids,))
    found = {w for r in cur.fetchall() for w in _SEARCH_WORD.findall(r[0].lower()) if len(w) >= 3}
    return sorted(found)[:limit]


def mint(config: Config, conn: pymysql.Connection, count: int = 1000, heavy_ids: list[int] | None = None,
         seed: int = 1, password: str | None = None, cold_count: int = 0,
         filtered_count: int = 0, filter_size: int = FILTER_SIZE) -> dict:
    """Open `count` sessions for a sample of users (plus the heavy followers, plus `cold_count` other
    users only the feed_cold scenario reads, plus `filtered_count` others who each block and mute
    `filter_size` accounts); return the token data."""
    rng = random.Random(seed)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM sessions WHERE user_agent = %s", (USER_AGENT,))
        ranges = _ranges(cur)
        lo, hi = ranges["users"]
        heavy = [u for u in (heavy_ids or []) if lo <= u <= hi]
        skip = set(heavy)
        pool = [u for u in range(lo, hi + 1) if u not in skip] if hi else []
        sample = rng.sample(pool, min(count, len(pool)))
        taken = set(sample)
        rest = [u for u in pool if u not in taken]
        cold = rng.sample(rest, min(cold_count, len(rest)))
        rest = [u for u in rest if u not in set(cold)]
        filtered = sorted(rng.sample(rest, min(filtered_count, len(rest))))
        _block_and_mute(cur, rng, filtered, lo, hi, filter_size)

        def open_session(user_id: int) -> dict:
            cur.execute("INSERT INTO sessions (user_id, kind, user_agent, ip, expires_at) "
                        "VALUES (%s, 'api', %s, '127.0.0.1', UTC_TIMESTAMP(3) + INTERVAL %s SECOND)",
                        (user_id, USER_AGENT, TOKEN_TTL))
            token = encode_token(config, user_id=user_id, session_id=cur.lastrowid, ttl=TOKEN_TTL)
            return {"user_id": user_id, "token": token}

        tokens = [open_session(u) for u in sample]
        heavy_tokens = [open_session(u) for u in heavy]
        cold_tokens = [open_session(u) for u in cold]
        filtered_tokens = [open_session(u) for u in filtered]
        # Tags for tag_page, most used first (as often picked as the Zipf vocabulary of bench/seed.py).
        cur.execute("SELECT t.name FROM post_hashtags ph JOIN tags t ON t.id = ph.tag_id "
                    "GROUP BY ph.tag_id, t.name ORDER BY COUNT(*) DESC, t.name LIMIT 50")
        tags = [r[0] for r in cur.fetchall()]
        search = search_paths(cur, rng, *ranges["posts"], ranges["users"])
        words = vocabulary(cur, rng, *ranges["posts"])
        logins = []
        if sample:
            cur.execute("SELECT username FROM users WHERE id IN %s ORDER BY id", (sample[:200],))
            logins = [r[0] for r in cur.fetchall()]
    conn.commit()
    return {
        "users": ranges["users"], "posts": ranges["posts"], "comment_posts": ranges["comment_posts"],
        "hot_posts": (max(ranges["posts"][0], ranges["posts"][1] - max(ranges["posts"][1] // 5, 1) + 1),
                      ranges["posts"][1]),
        "tokens": tokens, "heavy_tokens": heavy_tokens, "cold_tokens": cold_tokens,
        "filtered_tokens": filtered_tokens, "logins": logins, "tags": tags, "search": search,
        "words": words, "password": password,
    }


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_lua(data: dict) -> str:
    """The dataset as a Lua chunk returning a table (loaded by bench/lua/common.lua)."""
    def rng(name: str) -> str:
        lo, hi = data[name]
        return f"  {name}_min = {int(lo)}, {name}_max = {int(hi)},\n"

    parts = ["-- Generated by `python -m bench tokens`; do not edit.\nreturn {\n"]
    parts += [rng("users"), rng("posts"), rng("hot_posts"), rng("comment_posts")]
    for key in ("tokens", "heavy_tokens", "cold_tokens", "filtered_tokens"):
        parts.append(f"  {key} = {{\n")
        parts += [f"    {{{int(t['user_id'])}, {_lua_str(t['token'])}}},\n" for t in data.get(key, [])]
        parts.append("  },\n")
    parts.append("  search = {" + ", ".join(_lua_str(p) for p in data.get("search", [])) + "},\n")
    parts.append("  logins = {" + ", ".join(_lua_str(u) for u in data["logins"]) + "},\n")
    parts.append("  tags = {" + ", ".join(_lua_str(t) for t in data.get("tags", [])) + "},\n")
    parts.append("  words = {" + ", ".join(_lua_str(w) for w in data.get("words", [])) + "},\n")
    parts.append(f"  password = {_lua_str(data.get('password') or '')},\n}}\n")
    return "".join(parts)


def write(data: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, lua_path = directory / "tokens.json", directory / "data.lua"
    json_path.write_text(json.dumps(data, indent=1) + "\n")
    lua_path.write_text(to_lua(data))
    return json_path, lua_path
