-- Account export (server/exports.py): everything of one account, a keyset page at a time, each on
-- an index that starts with the account's id, so a page costs the same however much there is.

-- name: account^
SELECT u.id, u.username, u.email, u.full_name, u.bio, u.location, u.role, u.image_url,
       u.followers_count, u.following_count, u.posts_count, u.created_at, u.updated_at,
       m.storage_key AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(user_id)s

-- name: posts
-- ix_posts_user (user_id, id)
SELECT id, title, slug, description, content, likes_count, comments_count, created_at, updated_at, edited_at
FROM posts USE INDEX (ix_posts_user) WHERE user_id = %(user_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s

-- name: post_tags
SELECT pt.post_id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
WHERE pt.post_id IN %(ids)s ORDER BY pt.post_id, pt.position

-- name: post_media
SELECT post_id AS owner_id, id, media_type, content_type, storage_key FROM media
WHERE post_id IN %(ids)s ORDER BY position, id

-- name: post_versions
-- The earlier versions of these posts (edit history), oldest first (ix_post_versions_post).
SELECT post_id AS owner_id, title, content, media, created_at FROM post_versions
WHERE post_id IN %(ids)s ORDER BY post_id, id

-- name: comments
-- ix_comments_user (user_id, id)
SELECT id, post_id, content, likes_count, created_at, updated_at, edited_at
FROM comments WHERE user_id = %(user_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s

-- name: comment_media
SELECT comment_id AS owner_id, id, media_type, content_type, storage_key FROM media
WHERE comment_id IN %(ids)s ORDER BY position, id

-- name: post_likes
-- ix_post_likes_user (user_id, id)
SELECT id, post_id, created_at FROM post_likes WHERE user_id = %(user_id)s AND id > %(after)s
ORDER BY id LIMIT %(limit)s

-- name: comment_likes
SELECT id, comment_id, created_at FROM comment_likes WHERE user_id = %(user_id)s AND id > %(after)s
ORDER BY id LIMIT %(limit)s

-- name: comment_versions
SELECT comment_id AS owner_id, NULL AS title, content, media, created_at FROM comment_versions
WHERE comment_id IN %(ids)s ORDER BY comment_id, id

-- name: message_versions
SELECT message_id AS owner_id, NULL AS title, content, NULL AS media, created_at FROM message_versions
WHERE message_id IN %(ids)s ORDER BY message_id, id

-- name: bookmarks
-- ix_bookmarks_user (user_id, id): oldest bookmark first.
SELECT id, post_id, created_at FROM bookmarks WHERE user_id = %(user_id)s AND id > %(after)s
ORDER BY id LIMIT %(limit)s

-- name: following
-- ix_follows_follower (follower_id, id)
SELECT f.id, f.followee_id AS user_id, u.username, f.created_at
FROM follows f JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = %(user_id)s AND f.id > %(after)s ORDER BY f.id LIMIT %(limit)s

-- name: followers
-- ix_follows_followee (followee_id, id)
SELECT f.id, f.follower_id AS user_id, u.username, f.created_at
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.followee_id = %(user_id)s AND f.id > %(after)s ORDER BY f.id LIMIT %(limit)s

-- name: peers
-- The account's conversations (primary key (user_id, peer_id)); their messages are read per pair.
SELECT peer_id AS id FROM conversations WHERE user_id = %(user_id)s AND peer_id > %(after)s
ORDER BY peer_id LIMIT %(limit)s

-- name: messages
-- ix_messages_pair (user_lo, user_hi, id): one conversation, both directions.
SELECT m.id, m.sender_id, m.recipient_id, m.message_type, m.content, m.client_id, m.read_at,
       m.responses_count, m.created_at, m.edited_at, md.storage_key
FROM messages m LEFT JOIN media md ON md.message_id = m.id
WHERE m.user_lo = %(lo)s AND m.user_hi = %(hi)s AND m.id > %(after)s
ORDER BY m.id LIMIT %(limit)s

-- name: responses
-- The account's own responses (the author_id index of its foreign key, then id).
SELECT r.id, r.message_id, r.response_type, r.content, r.created_at, md.storage_key
FROM message_responses r LEFT JOIN media md ON md.response_id = r.id
WHERE r.author_id = %(user_id)s AND r.id > %(after)s ORDER BY r.id LIMIT %(limit)s

-- name: reactions
-- ix_message_reactions_user (user_id, id): the account's own reactions on messages.
SELECT id, message_id, emoji, created_at FROM message_reactions
WHERE user_id = %(user_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s

-- name: files
-- Every file the account uploaded (avatar, posts, comments, chat), each once: keyset on the key,
-- since content-addressed files may back several of its media rows.
SELECT DISTINCT storage_key FROM media WHERE user_id = %(user_id)s AND storage_key > %(after)s
ORDER BY storage_key LIMIT %(limit)s
