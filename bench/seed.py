"""Seed data: a deterministic social graph with Faker text, bulk-loaded straight into MySQL.

Every row is generated in Python from one `random.Random(seed)` and one seeded Faker, then
loaded with LOAD DATA LOCAL INFILE (multi-row INSERTs when the server refuses local files).
Counters (posts_count, followers_count, following_count, likes_count, comments_count) are
computed from the generated rows, so they are exact by construction; the test checks them.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import pymysql

from server import search
from server.config import Config

PASSWORD = "bench-password-1"  # every seeded user's password (the login scenario uses it)
# Children first: the wipe runs with FOREIGN_KEY_CHECKS=0 anyway.
TABLES = [
    "post_search_recent", "tag_follows", "post_mentions", "comment_mentions", "comment_hashtags", "post_hashtags", "post_tags", "tags",
    "blocks", "mutes", "conversation_mutes",
    "user_events", "user_event_seq", "idempotency_keys", "notifications", "conversations",
    "comment_likes", "post_likes", "media", "message_responses", "messages", "comments", "posts",
    "follows", "password_resets", "refresh_tokens", "sessions", "users",
]
CHUNK = 50_000  # rows per LOAD DATA file / progress step
INSERT_BATCH = 2_000  # rows per multi-row INSERT in the fallback path
_USERNAME_BAD = re.compile(r"[^a-z0-9_]")
# Hashtags: this share of posts carries one to three tags from a small vocabulary, drawn with a
# Zipf-like weight (the first tags are on many posts, the last on few), from a random stream of
# their own so the rest of the data set is the same with or without them.
TAG_VOCABULARY = [
    "news", "music", "python", "travel", "food", "photography", "sports", "art", "books", "coffee",
    "gaming", "science", "movies", "fitness", "nature", "history", "design", "startups", "cats", "dogs",
    "weather", "football", "jazz", "cooking", "space", "climate", "poetry", "hiking", "linux", "rust",
    "chess", "gardening", "running", "theatre", "cycling", "podcasts", "anime", "baking", "birds", "tea",
]
TAG_SHARE = 0.3


@dataclass(frozen=True)
class SeedSpec:
    users: int = 10_000
    posts_per_user: int = 100
    follows_per_user: int = 100
    likes_per_user: int = 20
    comments_per_user: int = 10
    heavy_users: int = 10  # users 1..heavy_users follow heavy_follows accounts (the feed-cost check)
    heavy_follows: int = 1_000
    seed: int = 1
    password: str = PASSWORD
    bcrypt_rounds: int = 12


class Progress:
    """A one-line progress bar on a terminal; one line per step otherwise."""

    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.t0 = time.monotonic()

    def update(self, label: str, done: int, total: int) -> None:
        if not self.tty:
            return
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r{label:<14} [{bar:<30}] {done:>9,}/{total:,} {time.monotonic() - self.t0:6.1f}s")
        self.stream.flush()

    def finish(self, label: str, total: int) -> None:
        if self.tty:
            self.update(label, total, total)
            self.stream.write("\n")
        else:
            self.stream.write(f"{label}: {total:,} rows ({time.monotonic() - self.t0:.1f}s)\n")
        self.stream.flush()


def connect(config: Config, database: str | None = None) -> pymysql.Connection:
    db = config.db
    return pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                           database=database or db.name, charset="utf8mb4", autocommit=False,
                           local_infile=True, init_command="SET time_zone = '+00:00'")


def _dt(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


class TextPool:
    """Faker text generated once, then picked by the seeded RNG (Faker per row is too slow)."""

    def __init__(self, seed: int):
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.names = [fake.name() for _ in range(2_000)]
        self.handles = [_USERNAME_BAD.sub("", fake.user_name().lower())[:20] or "user" for _ in range(2_000)]
        self.bios = [fake.sentence(nb_words=12)[:500] for _ in range(500)]
        self.locations = [f"{fake.city()}, {fake.country()}"[:100] for _ in range(300)]
        self.sentences = [fake.sentence(nb_words=14) for _ in range(5_000)]
        self.titles = [fake.sentence(nb_words=5).rstrip(".")[:100] for _ in range(500)]
        self.comments = [fake.sentence(nb_words=9) for _ in range(2_000)]


@dataclass
class Dataset:
    """Generated rows (users and posts are streamed; these are the pieces that need counting)."""

    follows: list[tuple[int, int]]
    authors: list[int]  # authors[i] wrote post i + 1
    likes: list[tuple[int, int]]  # (post_id, user_id)
    comments: list[tuple[int, int]]  # (post_id, user_id)


def generate(spec: SeedSpec, rng: random.Random) -> Dataset:
    n = spec.users
    ids = list(range(1, n + 1))
    # Popularity: a Zipf-like weight over a shuffled order, so followers_count is skewed like real life.
    order = ids[:]
    rng.shuffle(order)
    cum, total = [], 0.0
    for rank in range(n):
        total += 1.0 / (rank + 1) ** 0.7
        cum.append(total)

    def popular() -> int:
        return order[bisect.bisect_left(cum, rng.random() * total)]

    # Heavy followers only where the graph is big enough for them to stand out.
    heavy_users = spec.heavy_users if spec.heavy_follows < n else 0
    follows: list[tuple[int, int]] = []
    for u in ids:
        want = spec.heavy_follows if u <= heavy_users else spec.follows_per_user
        want = min(want, n - 1)
        chosen: set[int] = set()
        for _ in range(want * 2):  # half of the follows by popularity, the rest uniform
            if len(chosen) >= want // 2:
                break
            v = popular()
            if v != u:
                chosen.add(v)
        for _ in range(want * 20):  # bounded; the fallback below guarantees the count
            if len(chosen) >= want:
                break
            v = rng.randint(1, n)
            if v != u:
                chosen.add(v)
        if len(chosen) < want:
            rest = [v for v in ids if v != u and v not in chosen]
            chosen.update(rng.sample(rest, want - len(chosen)))
        follows.extend((u, v) for v in sorted(chosen))
    rng.shuffle(follows)

    authors = [u for u in ids for _ in range(spec.posts_per_user)]
    rng.shuffle(authors)
    n_posts = len(authors)

    def window(fraction: float) -> tuple[int, int]:
        lo = max(1, n_posts - max(1, int(n_posts * fraction)) + 1)
        return lo, n_posts

    likes: list[tuple[int, int]] = []
    comments: list[tuple[int, int]] = []
    if n_posts:
        lo, hi = window(0.2)
        for u in ids:
            k = min(spec.likes_per_user, hi - lo + 1)
            likes.extend((p, u) for p in rng.sample(range(lo, hi + 1), k))
        lo, hi = window(0.05)
        for u in ids:
            comments.extend((rng.randint(lo, hi), u) for _ in range(spec.comments_per_user))
        rng.shuffle(likes)
        rng.shuffle(comments)
    return Dataset(follows, authors, likes, comments)


def _escape(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return str(value)


class Loader:
    """Bulk rows into a table: LOAD DATA LOCAL INFILE, else multi-row INSERTs."""

    def __init__(self, conn: pymysql.Connection, tmpdir: Path):
        self.conn = conn
        self.tmpdir = tmpdir
        self.use_infile = True

    def load(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.use_infile:
            try:
                self._infile(table, columns, rows)
                return
            except pymysql.err.MySQLError as exc:
                # 1148/3948/4166: local infile disabled on the server or the client.
                if not (exc.args and exc.args[0] in (1148, 2068, 3948, 4166)):
                    raise
                self.conn.rollback()
                self.use_infile = False
        self._inserts(table, columns, rows)

    def _infile(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        path = self.tmpdir / f"{table}.tsv"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join("\t".join(_escape(v) for v in row) + "\n" for row in rows))
        with self.conn.cursor() as cur:
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "  # noqa: S608
                "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                f"({', '.join(columns)})", (str(path),))
        self.conn.commit()

    def _inserts(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        sql = (f"INSERT INTO `{table}` ({', '.join(columns)}) VALUES "  # noqa: S608 - our own names
               f"({', '.join(['%s'] * len(columns))})")
        with self.conn.cursor() as cur:
            for start in range(0, len(rows), INSERT_BATCH):
                cur.executemany(sql, rows[start:start + INSERT_BATCH])  # pymysql makes one multi-row INSERT
        self.conn.commit()


SEED_BUFFER_POOL = 1 << 30


def raise_buffer_pool(conn: pymysql.Connection, size: int) -> int | None:
    """Raise MariaDB's buffer pool to `size` for a while (the 128 MB default has failed bulk loads
    with 1206 "lock table size"); the size to put back, or None when nothing changed."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@innodb_buffer_pool_size")
        before = int(cur.fetchone()[0])
        if before >= size:
            return None
        try:
            cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (size,))
        except pymysql.err.MySQLError:
            return None  # not allowed: load with what there is
    return before


def restore_buffer_pool(conn: pymysql.Connection, before: int | None) -> None:
    if before is not None:
        with contextlib.suppress(pymysql.err.MySQLError), conn.cursor() as cur:
            cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (before,))


def wipe(conn: pymysql.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        present = {r[0] for r in cur.fetchall()}
        for table in TABLES:
            if table in present:
                cur.execute(f"TRUNCATE TABLE `{table}`")
    conn.commit()


def seed(config: Config, spec: SeedSpec, database: str | None = None, progress: Progress | None = None,
         meta_path: Path | None = None) -> dict:
    """Wipe `database` (default: the configured one) and fill it; return a summary of what went in."""
    progress = progress or Progress()
    t0 = time.monotonic()
    rng = random.Random(spec.seed)
    text = TextPool(spec.seed)
    data = generate(spec, rng)
    # One hash for everyone: bcrypt at the server's cost is ~0.3 s, 10,000 of them would be an hour.
    password_hash = bcrypt.hashpw(spec.password.encode(), bcrypt.gensalt(spec.bcrypt_rounds)).decode()

    followers = Counter(v for _, v in data.follows)
    following = Counter(u for u, _ in data.follows)
    posts_count = Counter(data.authors)
    likes_count = Counter(p for p, _ in data.likes)
    comments_count = Counter(p for p, _ in data.comments)

    now = datetime.now(UTC).replace(tzinfo=None)
    year = timedelta(days=365)
    conn = connect(config, database)
    pool_before = raise_buffer_pool(conn, SEED_BUFFER_POOL)
    try:
        with conn.cursor() as cur:
            # Safe because the generator makes every key unique and every reference valid.
            cur.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            with contextlib.suppress(pymysql.err.MySQLError):
                cur.execute("SET SESSION sql_log_bin = 0")
        wipe(conn)
        with tempfile.TemporaryDirectory(prefix="chatter-seed-") as tmp:
            loader = Loader(conn, Path(tmp))

            def stream(label: str, table: str, columns: list[str], total: int, make_row) -> None:
                for start in range(0, total, CHUNK):
                    rows = [make_row(i) for i in range(start, min(start + CHUNK, total))]
                    loader.load(table, columns, rows)
                    progress.update(label, start + len(rows), total)
                progress.finish(label, total)

            n = spec.users
            joined = now - 2 * year

            def user_row(i: int) -> tuple:
                uid = i + 1
                suffix = f"_{uid}"
                username = text.handles[rng.randrange(len(text.handles))][: 30 - len(suffix)] + suffix
                created = _dt(joined + timedelta(seconds=uid * 3600))
                return (uid, username, f"{username}@example.com", password_hash,
                        text.names[rng.randrange(len(text.names))],
                        text.bios[rng.randrange(len(text.bios))] if rng.random() < 0.7 else None,
                        text.locations[rng.randrange(len(text.locations))] if rng.random() < 0.5 else None,
                        followers[uid], following[uid], posts_count[uid], created, created)

            stream("users", "users",
                   ["id", "username", "email", "password_hash", "full_name", "bio", "location",
                    "followers_count", "following_count", "posts_count", "created_at", "updated_at"],
                   n, user_row)

            nf = len(data.follows)

            def follow_row(i: int) -> tuple:
                u, v = data.follows[i]
                return (i + 1, u, v, _dt(now - year + year * (i / max(nf, 1))))

            stream("follows", "follows", ["id", "follower_id", "followee_id", "created_at"], nf, follow_row)

            n_posts = len(data.authors)
            post_span = year - timedelta(hours=1)

            def post_created(pid: int) -> datetime:
                return now - year + post_span * (pid / max(n_posts, 1))

            tag_rng = random.Random(spec.seed * 1_000_003 + 17)
            tag_weights = [1.0 / (rank + 1) for rank in range(len(TAG_VOCABULARY))]
            hashtags: list[tuple] = []  # post_hashtags rows

            def post_tags(pid: int, author: int, created: str) -> str:
                if tag_rng.random() >= TAG_SHARE:
                    return ""
                picked = list(dict.fromkeys(tag_rng.choices(range(len(TAG_VOCABULARY)), tag_weights,
                                                            k=tag_rng.randint(1, 3))))
                hashtags.extend((pid, t + 1, author, pos, created) for pos, t in enumerate(picked))
                return " " + " ".join("#" + TAG_VOCABULARY[t] for t in picked)

            def post_row(i: int) -> tuple:
                pid = i + 1
                content = " ".join(text.sentences[rng.randrange(len(text.sentences))]
                                   for _ in range(rng.randint(1, 3)))
                title = text.titles[rng.randrange(len(text.titles))] if rng.random() < 0.3 else None
                created = _dt(post_created(pid))
                content += post_tags(pid, data.authors[i], created)
                return (pid, data.authors[i], title, content, likes_count[pid], comments_count[pid],
                        created, created)

            stream("posts", "posts", ["id", "user_id", "title", "content", "likes_count", "comments_count",
                                      "created_at", "updated_at"], n_posts, post_row)
            # Normalized tag rows (name = norm: the vocabulary is lower-case ASCII), ids 1..n.
            loader.load("tags", ["id", "name", "norm"], [(i + 1, t, t) for i, t in enumerate(TAG_VOCABULARY)])
            stream("post_hashtags", "post_hashtags", ["post_id", "tag_id", "user_id", "position", "created_at"],
                   len(hashtags), lambda i: hashtags[i])

            def comment_row(i: int) -> tuple:
                pid, uid = data.comments[i]
                created = _dt(min(post_created(pid) + timedelta(minutes=1 + i % 50), now))
                return (i + 1, pid, uid, text.comments[rng.randrange(len(text.comments))], created, created)

            stream("comments", "comments", ["id", "post_id", "user_id", "content", "created_at", "updated_at"],
                   len(data.comments), comment_row)

            def like_row(i: int) -> tuple:
                pid, uid = data.likes[i]
                return (i + 1, pid, uid, _dt(min(post_created(pid) + timedelta(minutes=2), now)))

            stream("post_likes", "post_likes", ["id", "post_id", "user_id", "created_at"],
                   len(data.likes), like_row)
        with conn.cursor() as cur:
            # Posts loaded here skip the service that copies each one into search's index of the
            # newest posts (server/search.py): it is filled from them once.
            cur.execute("INSERT INTO post_search_recent (id, title, content) SELECT id, title, content FROM posts "
                        "WHERE id > (SELECT COALESCE(MAX(id), 0) FROM posts) - %s", (search.WINDOW,))
            cur.execute("ANALYZE TABLE users, follows, posts, comments, post_likes, tags, post_hashtags")
            cur.fetchall()
        conn.commit()
    finally:
        restore_buffer_pool(conn, pool_before)
        conn.close()
    summary = {
        "spec": {k: v for k, v in asdict(spec).items() if k != "password"},
        "password": spec.password,
        "database": database or config.db.name,
        "counts": {"users": spec.users, "follows": len(data.follows), "posts": len(data.authors),
                   "comments": len(data.comments), "post_likes": len(data.likes)},
        "hashtags": {"tags": len(TAG_VOCABULARY), "uses": len(hashtags),
                     "posts": len({row[0] for row in hashtags})},
        "heavy_user_ids": list(range(1, spec.heavy_users + 1)) if spec.heavy_follows < spec.users else [],
        "seconds": round(time.monotonic() - t0, 1),
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if meta_path is not None:
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def counters_mismatch(conn: pymysql.Connection) -> dict[str, int]:
    """Rows whose stored counter differs from a recount (all zero when the data is exact)."""
    checks = {
        "posts_count": "SELECT COUNT(*) FROM users u WHERE u.posts_count <> "
                       "(SELECT COUNT(*) FROM posts p WHERE p.user_id = u.id)",
        "followers_count": "SELECT COUNT(*) FROM users u WHERE u.followers_count <> "
                           "(SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id)",
        "following_count": "SELECT COUNT(*) FROM users u WHERE u.following_count <> "
                           "(SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id)",
        "likes_count": "SELECT COUNT(*) FROM posts p WHERE p.likes_count <> "
                       "(SELECT COUNT(*) FROM post_likes l WHERE l.post_id = p.id)",
        "comments_count": "SELECT COUNT(*) FROM posts p WHERE p.comments_count <> "
                          "(SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id)",
    }
    out = {}
    with conn.cursor() as cur:
        for name, sql in checks.items():
            cur.execute(sql)
            out[name] = cur.fetchone()[0]
    return out

