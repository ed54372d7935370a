-- Account deletion (server/deletion.py): the request, the job's claim and lease, and its batches.
-- Every batch is one transaction that removes some rows and moves the counters they drive, so a
-- crash between two batches leaves nothing half done; the job resumes with what is left.

-- name: lock_account^
SELECT id, state, password_hash FROM users WHERE id = %(id)s FOR UPDATE

-- name: mark_deleted!
-- The account answers 404 from this COMMIT on (users.state); its email is free again at once,
-- its username stays reserved (housekeeping releases it after reserve_days).
UPDATE users SET state = 'deleted', state_until = NULL, state_reason = NULL, state_changed_at = UTC_TIMESTAMP(3),
       role = 'user', email = CONCAT(id, '@deleted.invalid'), password_hash = '!', full_name = NULL, bio = NULL,
       location = NULL, image_url = NULL, updated_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s

-- name: create_job!
INSERT INTO account_deletions (user_id) VALUES (%(user_id)s)

-- name: claim!
-- One unfinished job whose lease is free (never taken, released, or run out: its worker died).
UPDATE account_deletions
SET lease_token = %(token)s, lease_until = UTC_TIMESTAMP(3) + INTERVAL %(lease)s SECOND, attempts = attempts + 1
WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until < UTC_TIMESTAMP(3))
ORDER BY requested_at, user_id
LIMIT 1

-- name: claimed$
SELECT user_id FROM account_deletions WHERE lease_token = %(token)s AND finished_at IS NULL

-- name: renew!
-- Between batches: keep the lease, and say which stage runs; 0 rows: the lease was lost.
UPDATE account_deletions
SET lease_until = UTC_TIMESTAMP(3) + INTERVAL %(lease)s SECOND, stage = %(stage)s, batches = batches + 1
WHERE user_id = %(user_id)s AND lease_token = %(token)s

-- name: release!
UPDATE account_deletions SET lease_until = NULL, lease_token = NULL, last_error = %(error)s
WHERE user_id = %(user_id)s AND lease_token = %(token)s

-- name: finish!
UPDATE account_deletions SET finished_at = UTC_TIMESTAMP(3), stage = 'done', lease_until = NULL, lease_token = NULL
WHERE user_id = %(user_id)s AND lease_token = %(token)s

-- name: job^
SELECT * FROM account_deletions WHERE user_id = %(user_id)s

-- --- likes -------------------------------------------------------------------------------------

-- name: post_likes_of
SELECT post_id AS id FROM post_likes WHERE user_id = %(user_id)s ORDER BY post_id LIMIT %(limit)s

-- name: lock_posts
-- In id order: the like, comment and delete paths lock one post at a time, so no cycle.
SELECT id FROM posts WHERE id IN %(ids)s ORDER BY id FOR UPDATE

-- name: post_likes_in
SELECT post_id FROM post_likes WHERE user_id = %(user_id)s AND post_id IN %(ids)s FOR UPDATE

-- name: delete_post_likes!
DELETE FROM post_likes WHERE user_id = %(user_id)s AND post_id IN %(ids)s

-- name: unbump_posts_likes!
UPDATE posts SET likes_count = likes_count - 1 WHERE id IN %(ids)s

-- name: comment_likes_of
SELECT comment_id AS id FROM comment_likes WHERE user_id = %(user_id)s ORDER BY comment_id LIMIT %(limit)s

-- name: lock_comments
SELECT id FROM comments WHERE id IN %(ids)s ORDER BY id FOR UPDATE

-- name: comment_likes_in
SELECT comment_id FROM comment_likes WHERE user_id = %(user_id)s AND comment_id IN %(ids)s FOR UPDATE

-- name: delete_comment_likes!
DELETE FROM comment_likes WHERE user_id = %(user_id)s AND comment_id IN %(ids)s

-- name: unbump_comments_likes!
UPDATE comments SET likes_count = likes_count - 1 WHERE id IN %(ids)s

-- --- comments ----------------------------------------------------------------------------------

-- name: comments_of
SELECT post_id AS id FROM comments WHERE user_id = %(user_id)s ORDER BY post_id LIMIT %(limit)s

-- name: comments_in
SELECT id, post_id FROM comments WHERE user_id = %(user_id)s AND post_id IN %(ids)s
ORDER BY id LIMIT %(limit)s FOR UPDATE

-- name: comments_media
SELECT storage_key, thumb_key FROM media WHERE comment_id IN %(ids)s

-- name: delete_comments!
DELETE FROM comments WHERE id IN %(ids)s

-- name: unbump_post_comments!
UPDATE posts SET comments_count = comments_count - %(n)s WHERE id = %(post_id)s

-- --- follows -----------------------------------------------------------------------------------

-- name: follows_of
-- Both directions, each a range of its own index.
(SELECT id, follower_id, followee_id FROM follows WHERE follower_id = %(user_id)s ORDER BY id LIMIT %(limit)s)
UNION ALL
(SELECT id, follower_id, followee_id FROM follows WHERE followee_id = %(user_id)s ORDER BY id LIMIT %(limit)s)

-- name: lock_users
-- In id order, as follows.lock_pair does for one pair.
SELECT id FROM users WHERE id IN %(ids)s ORDER BY id FOR UPDATE

-- name: follows_in
SELECT id, follower_id, followee_id FROM follows WHERE id IN %(ids)s FOR UPDATE

-- name: delete_follows!
DELETE FROM follows WHERE id IN %(ids)s

-- name: unbump_follow_counts!
UPDATE users SET followers_count = followers_count - %(followers)s, following_count = following_count - %(following)s
WHERE id = %(id)s

-- --- posts -------------------------------------------------------------------------------------

-- name: posts_of
SELECT id FROM posts WHERE user_id = %(user_id)s ORDER BY id LIMIT %(limit)s

-- name: lock_user^
-- The author's row first, as posts.create_post and delete_post take it.
SELECT id FROM users WHERE id = %(id)s FOR UPDATE

-- name: own_posts_in
SELECT id FROM posts WHERE user_id = %(user_id)s AND id IN %(ids)s ORDER BY id FOR UPDATE

-- name: posts_media
-- The posts' media and their comments' (anyone's), which go with them.
SELECT storage_key, thumb_key FROM media WHERE post_id IN %(ids)s
UNION ALL
SELECT m.storage_key, m.thumb_key FROM comments c JOIN media m ON m.comment_id = c.id WHERE c.post_id IN %(ids)s

-- name: delete_posts!
-- Comments on them, likes, tags, media rows and notifications go by ON DELETE CASCADE.
DELETE FROM posts WHERE id IN %(ids)s

-- name: unbump_user_posts!
UPDATE users SET posts_count = posts_count - %(n)s WHERE id = %(id)s

-- --- notifications, media, the rest ------------------------------------------------------------

-- name: notifications_by
SELECT id, user_id, is_read FROM notifications WHERE actor_id = %(user_id)s ORDER BY id LIMIT %(limit)s FOR UPDATE

-- name: delete_notifications_in!
DELETE FROM notifications WHERE id IN %(ids)s

-- name: unread_count$
SELECT COUNT(*) FROM notifications WHERE user_id = %(user_id)s AND is_read = FALSE

-- name: delete_notifications_of!
DELETE FROM notifications WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: media_left
-- What is left of the account's uploads (the avatar, unattached ones): not what went with a
-- message or a response, which stay in the other person's history.
SELECT id, storage_key, thumb_key FROM media
WHERE user_id = %(user_id)s AND message_id IS NULL AND response_id IS NULL
ORDER BY id LIMIT %(limit)s FOR UPDATE

-- name: delete_media_in!
DELETE FROM media WHERE id IN %(ids)s

-- name: delete_bookmarks!
-- ix_bookmarks_user (user_id, id); nothing counts them.
DELETE FROM bookmarks WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_events!
DELETE FROM user_events WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_event_seq!
DELETE FROM user_event_seq WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_idempotency!
DELETE FROM idempotency_keys WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_resets!
DELETE FROM password_resets WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_conversations!
-- The account's own side; the other person's keeps the history (its peer shown as a deleted user).
DELETE FROM conversations WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_reactions!
-- Its reactions on messages (the summaries count the rows: nothing else to correct).
DELETE FROM message_reactions WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_sessions!
DELETE FROM sessions WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_tag_follows!
DELETE FROM tag_follows WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_post_mentions!
-- Mentions of the account in other people's posts and comments (no foreign key: server/mentions.py).
DELETE FROM post_mentions WHERE user_id = %(user_id)s LIMIT %(limit)s

-- name: delete_comment_mentions!
DELETE FROM comment_mentions WHERE user_id = %(user_id)s LIMIT %(limit)s

-- --- files -------------------------------------------------------------------------------------

-- name: add_orphans!
-- Written in the transaction that deletes the rows, so a crash before the storage call leaves the
-- keys listed here, not forgotten.
INSERT IGNORE INTO orphan_files (storage_key) VALUES (%s)

-- name: orphans
SELECT storage_key FROM orphan_files ORDER BY created_at, storage_key LIMIT %(limit)s

-- name: forget_orphan!
DELETE FROM orphan_files WHERE storage_key = %(key)s

-- --- the username ------------------------------------------------------------------------------

-- name: release_usernames!
-- Usernames of accounts deleted reserve_days ago become free: "~<id>" is no valid username.
UPDATE users SET username = CONCAT('~', id)
WHERE state = 'deleted' AND state_changed_at < UTC_TIMESTAMP(3) - INTERVAL %(days)s DAY
  AND username NOT LIKE '~%%'
LIMIT %(limit)s
