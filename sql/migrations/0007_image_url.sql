-- A profile picture may be an outside http(s) URL instead of an uploaded avatar (Conduit front
-- ends set `image` to a URL). A user has at most one of the two: setting one clears the other.
ALTER TABLE users ADD COLUMN image_url VARCHAR(2048) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL
  AFTER avatar_media_id;
