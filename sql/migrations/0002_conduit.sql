-- RealWorld "Conduit" articles on the same rows as posts: an article is a post
-- with a title. What articles add: a unique slug (set when an article is
-- created or retitled through /api; titled posts made through /api/v1 answer
-- to "<slugified title>-<id>" until then), a description and an ordered tag list.

ALTER TABLE posts
  ADD COLUMN slug VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER title,
  ADD COLUMN description VARCHAR(500) NULL AFTER slug,
  -- 1 for articles: lets the article lists and their counts run on an index.
  ADD COLUMN is_article TINYINT(1) AS (title IS NOT NULL) VIRTUAL,
  ADD UNIQUE KEY uq_posts_slug (slug),
  ADD KEY ix_posts_article (is_article, id),
  ADD KEY ix_posts_user_article (user_id, is_article, id);

CREATE TABLE tags (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL COLLATE utf8mb4_bin,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_tags_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- position keeps the tag list in the order it is shown.
CREATE TABLE post_tags (
  post_id BIGINT UNSIGNED NOT NULL,
  tag_id BIGINT UNSIGNED NOT NULL,
  position TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (post_id, tag_id),
  KEY ix_post_tags_tag (tag_id, post_id),
  CONSTRAINT fk_post_tags_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
  CONSTRAINT fk_post_tags_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ?favorited=<username>: that user's liked posts, newest post first.
ALTER TABLE post_likes ADD KEY ix_post_likes_user_post (user_id, post_id);
