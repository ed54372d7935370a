-- RealWorld "Conduit" reads and the article-only columns (slug, description, tags).
-- An article is a post with a title (posts.is_article = 1). Lists page with
-- LIMIT/OFFSET because the Conduit API requires offset; each id page comes from an
-- index and the documents are built for that page only (article_docs).
-- Authors hidden by users.state (see feed.sql) are tested on a line of their own in every list,
-- count and read, with the same predicate as the native pages.

-- What the viewer does not see (a NULL viewer: everything): the lists leave out articles by users
-- blocked either way by the viewer and, where they stand for the public timeline or the home feed
-- (all articles, a tag, the feed), by users the viewer mutes. Per row that is NOT EXISTS on the
-- primary keys of blocks and mutes. Counts: see count_articles below.
-- exists_to_in=off, subquery_cache=off: MariaDB would turn the NOT EXISTS on mutes into a semi-join
-- that materializes every unexpired mute of every user (a range of ix_mutes_expires) per request;
-- as a probe per row the feed page costs 2.5x less, the article list 1.7x (on the bench's data).
-- author= and favorited= name users through user_id_by_username, which is empty for a user who
-- blocks the viewer.

-- name: page_all
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT STRAIGHT_JOIN p.id FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.is_article = 1
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY p.id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: page_by_author
-- ix_posts_user_article (user_id, is_article, id)
SELECT id FROM posts WHERE user_id = %(author_id)s AND is_article = 1
ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: count_by_author$
SELECT COUNT(*) FROM posts WHERE user_id = %(author_id)s AND is_article = 1

-- name: page_by_favorited
-- ix_post_likes_user_post (user_id, post_id); author may narrow it further.
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT l.post_id AS id FROM post_likes l JOIN posts p ON p.id = l.post_id JOIN users u ON u.id = p.user_id
WHERE l.user_id = %(fav_id)s AND p.is_article = 1
  AND (%(author_id)s IS NULL OR p.user_id = %(author_id)s)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY l.post_id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: page_by_tag
-- ix_post_hashtags_tag (tag_id, post_id): the normalized tag (server/hashtags.py), from a tagList or
-- a #hashtag in the body; author and favorited may narrow it further.
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT t.post_id AS id FROM post_hashtags t JOIN posts p ON p.id = t.post_id JOIN users u ON u.id = p.user_id
WHERE t.tag_id = %(tag_id)s AND p.is_article = 1
  AND (%(author_id)s IS NULL OR p.user_id = %(author_id)s)
  AND (%(fav_id)s IS NULL OR EXISTS (
        SELECT 1 FROM post_likes l WHERE l.post_id = t.post_id AND l.user_id = %(fav_id)s))
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY t.post_id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: page_feed
-- Articles of the users the viewer follows (ix_follows_follower, ix_posts_user_article), but not
-- of those the viewer mutes (a block undoes follows both ways). `total` is the count of them all
-- (articlesCount), from the same rows in the same pass; a page past the end has no row to carry
-- it, and count_feed counts then.
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT p.id, COUNT(*) OVER () AS total FROM follows f JOIN posts p ON p.user_id = f.followee_id AND p.is_article = 1
JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = %(viewer_id)s
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = f.follower_id AND mu.target_id = f.followee_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND u.state = 'active'
ORDER BY p.id DESC LIMIT %(limit)s OFFSET %(offset)s

-- name: count_feed$
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT COUNT(*) FROM follows f JOIN posts p ON p.user_id = f.followee_id AND p.is_article = 1
JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = %(viewer_id)s
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = f.follower_id AND mu.target_id = f.followee_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND u.state = 'active'

-- articlesCount without a scan per request (server/articles.py ArticleCounts): the articles a list
-- holds for everyone (whoever wrote them) are counted once and kept a few seconds, shared by every
-- viewer; each request then subtracts the matching articles of the authors hidden from its viewer
-- (count_hidden), read through those authors' own rows (ix_posts_user_article), which is exact and
-- cheap: blocked either way, muted where the list leaves mutes out, deleted accounts, and suspended
-- ones unless the viewer is a moderator.

-- name: count_articles$
-- ix_posts_article (is_article, id) as a covering index: no row is read.
SELECT COUNT(*) FROM posts WHERE is_article = 1

-- name: count_tagged$
-- The normalized tag (post_hashtags, as page_by_tag).
SELECT COUNT(*) FROM post_hashtags t JOIN posts p ON p.id = t.post_id
WHERE t.tag_id = %(tag_id)s AND p.is_article = 1
  AND (%(author_id)s IS NULL OR p.user_id = %(author_id)s)
  AND (%(fav_id)s IS NULL OR EXISTS (
        SELECT 1 FROM post_likes l WHERE l.post_id = t.post_id AND l.user_id = %(fav_id)s))

-- name: count_favorited$
SELECT COUNT(*) FROM post_likes l JOIN posts p ON p.id = l.post_id
WHERE l.user_id = %(fav_id)s AND p.is_article = 1
  AND (%(author_id)s IS NULL OR p.user_id = %(author_id)s)

-- name: count_hidden$
-- %(mutes)s: whether the list leaves the viewer's mutes out. UNION: an author hidden twice over is
-- subtracted once. Deleted accounts: those whose deletion job has not finished (ix_account_deletions_
-- pending); a finished one has no article left, and the tombstones of all the others are not read.
SELECT COUNT(*) FROM (
  SELECT b.target_id AS id FROM blocks b WHERE b.user_id = %(viewer_id)s
  UNION SELECT b.user_id FROM blocks b WHERE b.target_id = %(viewer_id)s
  UNION SELECT mu.target_id FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND %(mutes)s
          AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3))
  UNION SELECT d.user_id FROM account_deletions d WHERE d.finished_at IS NULL
  UNION SELECT hu.id FROM users hu WHERE hu.state = 'suspended'
          AND NOT EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')
) h
JOIN posts p ON p.user_id = h.id AND p.is_article = 1
WHERE (%(author_id)s IS NULL OR p.user_id = %(author_id)s)
  AND (%(tag_id)s IS NULL OR EXISTS (
        SELECT 1 FROM post_hashtags t WHERE t.post_id = p.id AND t.tag_id = %(tag_id)s))
  AND (%(fav_id)s IS NULL OR EXISTS (
        SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.user_id = %(fav_id)s))

-- name: article_docs@
-- Conduit Article documents built by MariaDB (as feed.sql post_docs, whose notes apply), spliced
-- into the response as text: (id, doc, fallback_title). {body} is `'body', p.content,` for a single
-- article and empty for lists (spec 2.0 leaves the body out of them). 'slug' comes first: a titled
-- post without a stored slug (made through /api/v1) has "slug": null and its title in
-- fallback_title, and server/articles.py writes "<slugified title>-<id>" in its place. The tag list
-- is article_tags, read only for the rows whose has_tags says so, appended as text (no JSON_ARRAYAGG:
-- its temporary table is an on-disk one per statement, see feed.sql). subquery_cache=off: as feed.sql's
-- post_docs (each correlated EXISTS is one index probe per row; the cache would be a temporary table).
SET STATEMENT optimizer_switch='subquery_cache=off' FOR
SELECT p.id, IF(p.slug IS NULL, p.title, NULL) AS fallback_title, JSON_OBJECT(
  'slug', p.slug,
  'title', p.title,
  'description', COALESCE(p.description, ''),
  {body}
  'createdAt', CONCAT(REPLACE(CAST(p.created_at AS CHAR), ' ', 'T'), 'Z'),
  'updatedAt', CONCAT(REPLACE(CAST(p.updated_at AS CHAR), ' ', 'T'), 'Z'),
  'favorited', EXISTS(SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.user_id = %(viewer_id)s) IS TRUE,
  'favoritesCount', p.likes_count,
  'author', JSON_OBJECT(
    'username', u.username,
    'bio', NULLIF(u.bio, ''),
    'image', COALESCE(u.image_url, CONCAT(%(url_prefix)s, CONVERT(av.storage_key USING utf8mb4))),
    'following', EXISTS(SELECT 1 FROM follows f
                        WHERE f.follower_id = %(viewer_id)s AND f.followee_id = p.user_id) IS TRUE)
) AS doc,
EXISTS(SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id) AS has_tags
FROM posts p
JOIN users u ON u.id = p.user_id
LEFT JOIN media av ON av.id = u.avatar_media_id
LEFT JOIN blocks bk ON bk.user_id = p.user_id AND bk.target_id = %(viewer_id)s
LEFT JOIN users v ON v.id = %(viewer_id)s
WHERE p.id IN %(ids)s AND p.is_article = 1 AND bk.user_id IS NULL
  AND (u.state = 'active' OR (u.state = 'suspended' AND v.role <> 'user'))

-- name: article_tags@
-- Each tag of the posts as a JSON string, in list order.
SELECT pt.post_id, JSON_QUOTE(t.name) AS tag FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
WHERE pt.post_id IN %(ids)s
ORDER BY pt.post_id, pt.position

-- name: by_slug$
-- slug is ascii_bin. A slug with other characters (which no stored slug has) must match
-- nothing rather than fail with 1267 (illegal mix of collations): the argument is converted to
-- the column's collation (uq_posts_slug still serves the lookup), and only an all-ASCII one
-- (as many characters as bytes) can match, so the conversion's '?' never stands in for one.
SELECT id FROM posts
WHERE slug = CONVERT(%(slug)s USING ascii) COLLATE ascii_bin
  AND CHAR_LENGTH(%(slug)s) = OCTET_LENGTH(%(slug)s) AND is_article = 1

-- name: fallback_slug^
-- A titled post without a stored slug answers to "<slugified title>-<id>".
SELECT id, title FROM posts WHERE id = %(id)s AND slug IS NULL AND is_article = 1

-- name: head^
SELECT id, title, slug FROM posts WHERE id = %(id)s

-- name: set_description!
UPDATE posts SET description = %(description)s WHERE id = %(id)s

-- name: set_slug!
UPDATE posts SET slug = %(slug)s WHERE id = %(id)s

-- name: tag_ids
-- The tags were added (autocommit) before the transaction began, so a plain read sees them.
SELECT id, name FROM tags WHERE name IN %(names)s

-- name: lock_post$
SELECT id FROM posts WHERE id = %(id)s FOR UPDATE

-- name: post_tag_ids
SELECT tag_id FROM post_tags WHERE post_id = %(post_id)s

-- name: delete_post_tag!
DELETE FROM post_tags WHERE post_id = %(post_id)s AND tag_id = %(tag_id)s

-- name: post_tag_rows*!
-- A new article's rows (server/articles.py create_article), in tag id order, one multi-row INSERT.
INSERT INTO post_tags (post_id, tag_id, position) VALUES (%s, %s, %s)

-- name: put_post_tag!
INSERT INTO post_tags (post_id, tag_id, position) VALUES (%(post_id)s, %(tag_id)s, %(position)s)
ON DUPLICATE KEY UPDATE position = VALUES(position)

-- name: user_id_by_username$
-- None for a user who blocks the viewer, as for no such user.
SELECT u.id FROM users u
WHERE u.username = %(username)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: profile_by_username^
SELECT u.id, u.username, u.bio, COALESCE(u.image_url, m.storage_key) AS avatar_key,
       EXISTS (SELECT 1 FROM follows f
               WHERE f.follower_id = %(viewer_id)s AND f.followee_id = u.id) AS following
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.username = %(username)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: account^
SELECT u.id, u.username, u.email, u.bio, COALESCE(u.image_url, m.storage_key) AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(id)s

-- name: update_account!
-- Only the fields the client sent change: set_<field> says whether it did.
UPDATE users SET
  username = IF(%(set_username)s, %(username)s, username),
  email = IF(%(set_email)s, %(email)s, email),
  bio = IF(%(set_bio)s, %(bio)s, bio),
  updated_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s

-- name: comments_of_post
-- Newest first (ix_comments_post); the Conduit API has no paging for comments. Without comments by
-- users blocked either way by the viewer.
SELECT c.id, c.content, c.created_at, c.updated_at, c.user_id,
       u.username, u.bio, COALESCE(u.image_url, m.storage_key) AS avatar_key,
       EXISTS (SELECT 1 FROM follows f
               WHERE f.follower_id = %(viewer_id)s AND f.followee_id = c.user_id) AS following
FROM comments c
JOIN users u ON u.id = c.user_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE c.post_id = %(post_id)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = c.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = c.user_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
  AND EXISTS (SELECT 1 FROM posts pp JOIN users pu ON pu.id = pp.user_id WHERE pp.id = %(post_id)s AND (pu.state = 'active' OR (pu.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user'))))
ORDER BY c.id DESC
LIMIT %(limit)s

-- name: comment_by_id^
SELECT c.id, c.post_id, c.content, c.created_at, c.updated_at, c.user_id,
       u.username, u.bio, COALESCE(u.image_url, m.storage_key) AS avatar_key,
       EXISTS (SELECT 1 FROM follows f
               WHERE f.follower_id = %(viewer_id)s AND f.followee_id = c.user_id) AS following
FROM comments c
JOIN users u ON u.id = c.user_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE c.id = %(id)s
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
