-- Search: a full-text index of the newest posts only (server/search.py).
--
-- MATCH ... AGAINST makes InnoDB compute the whole match set of a query's words before the first
-- row, over every post the index holds: for a common word on a million posts, tens of thousands
-- of entries and tens of ms of CPU per search. Searches rank the newest matches (search.WINDOW
-- posts), so they read this table instead, a copy of the text of the newest posts with a FULLTEXT
-- index of its own: the same words match a few hundred entries. ft_posts_text (0012) stays for
-- the searches that look at all time (a text rare lately).
--
-- The service layer keeps it in step in the transaction that writes the post (create, edit,
-- delete: server/posts.py, server/deletion.py); a row whose post is gone some other way is
-- dropped by searches (they join posts) and by the next rebuild. Rebuilt from posts when it spans more
-- than twice the window (server/search.py trim_index, every minute, one worker at a time), by a
-- copy that replaces it: deleting its old rows would leave their entries in the full-text index.
-- Declared as posts is (0001), so that both get the same collation: the tokenizer and case folding
-- must agree.
CREATE TABLE post_search_recent (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  title VARCHAR(100) NULL,
  content TEXT NOT NULL,
  FULLTEXT KEY ft_recent_text (title, content)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The newest 20,000 posts (search.WINDOW) of an existing database.
INSERT INTO post_search_recent (id, title, content)
SELECT id, title, content FROM posts WHERE id > (SELECT COALESCE(MAX(id), 0) - 20000 FROM posts);
