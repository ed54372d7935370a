-- Home timeline cache (server/timeline.py): whose cached timelines a post reaches, and how long
-- a cached timeline holds.

-- name: follower_ids^
-- Everyone following user_id (ix_follows_followee (followee_id, id, follower_id), covering: 0016), as one
-- comma-separated string: one row to read instead of one per follower. n tells a string cut
-- at group_concat_max_len (then follower_rows is used). skip_muters: not those who mute user_id
-- (their home feed leaves user_id's posts out); the muters are read once (ix_mutes_target) and
-- each follower is looked up among them, never a probe of mutes per follower.
SELECT COUNT(*) AS n, GROUP_CONCAT(follower_id SEPARATOR ',') AS ids FROM follows
WHERE followee_id = %(user_id)s
  AND NOT (%(skip_muters)s AND follower_id IN (
        SELECT mu.user_id FROM mutes mu WHERE mu.target_id = %(user_id)s
        AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3))))

-- name: follower_rows
SELECT follower_id AS id FROM follows
WHERE followee_id = %(user_id)s
  AND NOT (%(skip_muters)s AND follower_id IN (
        SELECT mu.user_id FROM mutes mu WHERE mu.target_id = %(user_id)s
        AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3))))

-- name: next_mute_end$
-- When the first of the viewer's timed mutes in force ends (ms since the epoch; the pool's time
-- zone is UTC), or NULL: a cached home timeline is only good until then.
SELECT CAST(UNIX_TIMESTAMP(MIN(expires_at)) * 1000 AS UNSIGNED) FROM mutes
WHERE user_id = %(user_id)s AND expires_at > UTC_TIMESTAMP(3)

-- name: tags_followed
-- Whether anyone follows one of these tags (ix_tag_follows_tag): only then are the tags' readers
-- (hashtags.sql tag_readers, whose planning alone costs several times this) read.
SELECT 1 AS followed FROM tag_follows WHERE tag_id IN %(tag_ids)s LIMIT 1
