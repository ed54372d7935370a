-- Hashtags and mentions (server/hashtags.py). One tag dictionary for both APIs: `tags` holds every
-- name ever used, a Conduit tagList value as sent ("Dragons") and the normalized form of every tag
-- ("dragons", NFKC + case folding), and `norm` says which normalized tag a name stands for. The
-- row whose name equals its norm is *the* tag: post_hashtags, tag pages, follows and trending all
-- work on it, so "#Dragons" in a native post and tagList ["dragons"] on an article are one tag.

ALTER TABLE tags
  ADD COLUMN norm VARCHAR(100) NOT NULL DEFAULT '' COLLATE utf8mb4_bin AFTER name,
  ADD KEY ix_tags_norm (norm);

-- Existing names: LOWER() is the normalization for ASCII, which is what Conduit clients send;
-- new names get the full normalization from the service.
UPDATE tags SET norm = LEFT(LOWER(name), 100);
INSERT IGNORE INTO tags (name, norm) SELECT DISTINCT norm, norm FROM tags;

-- Every normalized tag a post carries, whatever put it there: a hashtag in its text or its Conduit
-- tagList (post_tags keeps the tagList as sent, in its order). user_id is the post's author (no
-- foreign key: the author's row is locked by other paths, see server/hashtags.py), for trending
-- and for the timelines an author's visibility change reaches. position: the order shown.
CREATE TABLE post_hashtags (
  post_id BIGINT UNSIGNED NOT NULL,
  tag_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  position TINYINT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (post_id, tag_id),
  -- A tag's page (and Conduit ?tag=), newest first, with the author for the block/mute filters.
  KEY ix_post_hashtags_tag (tag_id, post_id, user_id),
  -- Trending: the uses of the last 24 hours, read as a covering range.
  KEY ix_post_hashtags_recent (created_at, tag_id, user_id),
  KEY ix_post_hashtags_user (user_id, tag_id),
  CONSTRAINT fk_post_hashtags_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
  CONSTRAINT fk_post_hashtags_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO post_hashtags (post_id, tag_id, user_id, position, created_at)
SELECT pt.post_id, n.id, p.user_id, MIN(pt.position), p.created_at
FROM post_tags pt JOIN tags t ON t.id = pt.tag_id JOIN tags n ON n.name = t.norm JOIN posts p ON p.id = pt.post_id
GROUP BY pt.post_id, n.id, p.user_id, p.created_at;

CREATE TABLE comment_hashtags (
  comment_id BIGINT UNSIGNED NOT NULL,
  tag_id BIGINT UNSIGNED NOT NULL,
  position TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (comment_id, tag_id),
  CONSTRAINT fk_comment_hashtags_comment FOREIGN KEY (comment_id) REFERENCES comments (id) ON DELETE CASCADE,
  CONSTRAINT fk_comment_hashtags_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Who a post or comment mentions (resolved when written; an unknown name stays plain text). No
-- foreign key on user_id, for the same lock reason; documents join users and show active ones.
CREATE TABLE post_mentions (
  post_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  position TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (post_id, user_id),
  KEY ix_post_mentions_user (user_id, post_id),
  CONSTRAINT fk_post_mentions_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE comment_mentions (
  comment_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  position TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (comment_id, user_id),
  KEY ix_comment_mentions_user (user_id, comment_id),
  CONSTRAINT fk_comment_mentions_comment FOREIGN KEY (comment_id) REFERENCES comments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Followed tags: their posts join the follower's home feed (feed.sql home_ids).
CREATE TABLE tag_follows (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id BIGINT UNSIGNED NOT NULL,
  tag_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_tag_follows_pair (user_id, tag_id),
  KEY ix_tag_follows_user (user_id, id),
  KEY ix_tag_follows_tag (tag_id, user_id),
  CONSTRAINT fk_tag_follows_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_tag_follows_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE notifications
  MODIFY type ENUM('follow', 'like', 'comment', 'comment_like', 'message', 'response', 'report.resolved',
                   'mention') NOT NULL;
