-- Content-addressed files may be shared by several media rows: deleting a file first checks
-- that no row still uses its key, which these indexes make a lookup instead of a scan.
CREATE INDEX ix_media_storage_key ON media (storage_key);
CREATE INDEX ix_media_thumb_key ON media (thumb_key);
