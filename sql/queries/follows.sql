-- Follows: the pair rows and the two counters they drive, plus the follower/following lists.

-- name: lock_pair
-- Both users' rows, locked in primary-key order: every follow change touching either user
-- serializes here, so the INSERT/DELETE and the counter UPDATE never deadlock each other.
SELECT id, state FROM users WHERE id IN %(ids)s ORDER BY id FOR UPDATE

-- name: insert!
INSERT IGNORE INTO follows (follower_id, followee_id) VALUES (%(follower_id)s, %(followee_id)s)

-- name: delete!
DELETE FROM follows WHERE follower_id = %(follower_id)s AND followee_id = %(followee_id)s

-- name: bump_counts!
-- One statement for both counters (rows locked in key order); %(delta)s is +1 or -1.
UPDATE users
SET followers_count = followers_count + IF(id = %(followee_id)s, %(delta)s, 0),
    following_count = following_count + IF(id = %(follower_id)s, %(delta)s, 0)
WHERE id IN (%(follower_id)s, %(followee_id)s)

-- name: followers_count$
SELECT followers_count FROM users WHERE id = %(id)s

-- name: user_exists$
SELECT 1 FROM users WHERE id = %(id)s

-- name: viewer_follows
-- Which of ids the viewer follows (uq_follows_pair).
SELECT followee_id AS id FROM follows WHERE follower_id = %(viewer_id)s AND followee_id IN %(ids)s

-- name: follows_viewer
-- Which of ids follow the viewer (ix_follows_followee + uq_follows_pair).
SELECT follower_id AS id FROM follows WHERE followee_id = %(viewer_id)s AND follower_id IN %(ids)s

-- name: followers
-- Page of the users following user_id, newest follow first; the cursor is follows.id
-- (ix_follows_followee (followee_id, id)). Users blocked either way by the viewer are left out.
SELECT STRAIGHT_JOIN f.id AS follow_id, f.follower_id AS id
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.followee_id = %(user_id)s AND f.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = f.follower_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = f.follower_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY f.id {dir} LIMIT %(limit)s

-- name: following
-- Page of the users user_id follows (ix_follows_follower (follower_id, id)), as followers.
SELECT STRAIGHT_JOIN f.id AS follow_id, f.followee_id AS id
FROM follows f JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = %(user_id)s AND f.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = f.followee_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = f.followee_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY f.id {dir} LIMIT %(limit)s
