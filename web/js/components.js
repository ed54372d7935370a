// Pieces shared by several screens: paged lists ("load more" on the keyset cursor), post cards,
// like buttons, follow buttons, user rows, image uploads with progress.

import * as api from "./api.js";
import { avatar, displayName, h, plural, show, time, toast, userLink } from "./dom.js";

// A list read page by page: load(cursor) → {items, next_cursor}; "Load more" asks for the next page.
export function pager({ load, render, label, empty = "Nothing here yet.", tag = "div", more = "Load more", signal }) {
  const list = h(tag, { class: "list", "aria-label": label, "aria-busy": "false" });
  const button = h("button", { type: "button", class: "more", hidden: true }, more);
  const note = h("p", { class: "muted empty", hidden: true }, empty);
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  let cursor = null;
  let count = 0;
  const seen = new Set();

  // A reload replaces the items only once the new first page is here (no flash, no empty list).
  async function next(reset = false) {
    button.disabled = true;
    list.setAttribute("aria-busy", "true");
    show(error, false);
    try {
      const page = await load(reset ? null : cursor);
      if (signal?.aborted) return;
      if (reset) {
        count = 0;
        seen.clear();
        list.replaceChildren();
      }
      for (const item of page.items) {
        if (item.id !== undefined && seen.has(item.id)) continue;
        seen.add(item.id);
        list.append(render(item));
        count += 1;
      }
      cursor = page.next_cursor;
      show(button, cursor !== null);
      show(note, count === 0);
    } catch (e) {
      if (e.name === "AbortError") return;
      error.textContent = e.detail || e.message;
      show(error, true);
      show(button, !reset);
    } finally {
      button.disabled = false;
      list.setAttribute("aria-busy", "false");
    }
  }

  button.addEventListener("click", () => next());
  const el = h("div", { class: "pager" }, list, note, error, button);
  return {
    el,
    list,
    ready: next(true),
    reload: () => next(true),
    prepend(item) {
      if (item.id !== undefined && seen.has(item.id)) return;
      seen.add(item.id);
      list.prepend(render(item));
      count += 1;
      show(note, false);
    },
    append(item) {
      if (item.id !== undefined && seen.has(item.id)) return;
      seen.add(item.id);
      list.append(render(item));
      count += 1;
      show(note, false);
    },
    forget(id) {
      seen.delete(id);
      count = Math.max(0, count - 1);
      show(note, count === 0);
    },
  };
}

export function likeButton({ liked, count, path, label, onChange = () => {} }) {
  const num = h("span", { class: "count" }, String(count));
  const button = h("button", { type: "button", class: "like", "aria-pressed": String(!!liked), "aria-label": `${label} (${plural(count, "like")})` },
    h("span", { class: "heart", "aria-hidden": "true" }, "♥"), num);
  const set = (state, n) => {
    liked = state;
    count = n;
    button.setAttribute("aria-pressed", String(state));
    button.setAttribute("aria-label", `${label} (${plural(n, "like")})`);
    num.textContent = String(n);
    onChange(state, n);
  };
  button.addEventListener("click", async () => {
    if (!api.loggedIn()) {
      location.hash = "#/login";
      return;
    }
    const before = [liked, count];
    set(!liked, count + (liked ? -1 : 1));
    button.disabled = true;
    try {
      const result = before[0] ? await api.del(path) : await api.put(path);
      set(result.liked, result.likes_count);
    } catch (e) {
      set(...before);
      toast(e.detail || e.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function mediaGrid(media, who) {
  if (!media || !media.length) return null;
  return h("div", { class: `media-grid n${Math.min(media.length, 4)}` },
    media.map((m, i) => {
      const alt = `Image ${i + 1} of ${media.length} from ${who}`;
      if (m.type === "video") {
        return h("video", { src: m.url, controls: true, preload: "metadata", poster: m.thumbnail_url || false, "aria-label": alt });
      }
      return h("a", { href: m.url, target: "_blank", rel: "noopener", class: "media" },
        // One picture is shown large (the file itself); several share the width (thumbnails).
        h("img", { src: media.length === 1 ? m.url : m.thumbnail_url || m.url, alt, width: m.width || false, height: m.height || false, loading: "lazy" }));
    }));
}

// A post's or comment's text with its #tags linked to their pages and its @mentions to the
// profiles: only those the server parsed (the document's `tags` and `mentions`), the rest as typed.
const REF = /([#@])([\p{L}\p{M}\p{N}_]+)/gu;

export function richText(text, doc) {
  const tags = new Set((doc.tags || []).map((t) => t.toLowerCase()));
  const users = new Map((doc.mentions || []).map((m) => [m.username.toLowerCase(), m.username]));
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(REF)) {
    const [whole, sign, word] = m;
    const key = word.normalize("NFKC").toLowerCase();
    let link = null;
    if (sign === "#" && tags.has(key)) link = h("a", { href: `#/tags/${encodeURIComponent(key)}`, class: "tag-link" }, whole);
    else if (sign === "@" && users.has(key)) link = h("a", { href: `#/@${users.get(key)}`, class: "mention" }, whole);
    if (!link) continue;
    parts.push(text.slice(last, m.index), link);
    last = m.index + whole.length;
  }
  parts.push(text.slice(last));
  return parts;
}

export function postCard(post, { full = false, onDeleted = null, onEdit = null } = {}) {
  const author = post.author;
  const me = api.me();
  const href = `#/post/${post.id}`;
  const titleId = `post-${post.id}-title`;
  const comments = h("a", { href, class: "comments-link" }, plural(post.comments_count, "comment"));
  const history = full && post.edited ? historyToggle(post) : null;
  const card = h("article", { class: ["post card", full && "post-full"], "data-post-id": post.id, "aria-labelledby": titleId },
    h("header", { class: "post-head" },
      h("a", { href: `#/@${author.username}`, class: "avatar-link", tabindex: "-1", "aria-hidden": "true" }, avatar(author)),
      h("div", { class: "byline" },
        userLink(author, "author"),
        h("span", { class: "handle" }, `@${author.username}`),
        h("a", { href, class: "when" }, time(post.created_at)),
        post.edited && (history ? history.button : h("span", { class: "edited" }, "edited")))),
    post.title
      ? h(full ? "h1" : "h2", { class: "post-title", id: titleId, tabindex: full ? "-1" : false }, full ? post.title : h("a", { href }, post.title))
      : h(full ? "h1" : "h2", { class: "visually-hidden", id: titleId, tabindex: full ? "-1" : false }, `Post by ${displayName(author)}`),
    h("p", { class: "post-content" }, richText(post.content, post)),
    mediaGrid(post.media, displayName(author)),
    history && history.panel,
    h("footer", { class: "post-actions" },
      likeButton({ liked: post.liked, count: post.likes_count, path: `/api/v1/posts/${post.id}/like`, label: "Like" }),
      comments,
      me && bookmarkButton(post),
      !full && h("a", { href, class: "open-link" }, "Open"),
      full && me && me.id === author.id && onEdit && h("button", { type: "button", class: "link-button", "aria-label": "Edit post", onClick: () => onEdit(card) }, "Edit"),
      full && me && me.id === author.id && onDeleted && confirmButton("Delete", "Delete this post?", async () => {
        await api.del(`/api/v1/posts/${post.id}`);
        onDeleted();
      }, "Delete post")));
  return card;
}

// A pressed/unpressed button for a PUT / DELETE toggle that answers `{[key]: bool}`: paint(button,
// state) draws each state, done(state, answer) follows a change.
export function toggleButton({ state, path, key, cls, paint, done = () => {} }) {
  const button = h("button", { type: "button", class: cls });
  const draw = () => {
    button.setAttribute("aria-pressed", String(state));
    paint(button, state);
  };
  draw();
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const answer = state ? await api.del(path) : await api.put(path);
      state = !!answer[key];
      draw();
      done(state, answer);
    } catch (e) {
      toast(e.detail || e.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// A post's bookmark (private to its owner): PUT / DELETE /api/v1/posts/{id}/bookmark.
export function bookmarkButton(post) {
  return toggleButton({
    state: !!post.bookmarked, path: `/api/v1/posts/${post.id}/bookmark`, key: "bookmarked", cls: "link-button bookmark",
    paint: (button, on) => {
      button.textContent = on ? "Saved" : "Save";
      button.setAttribute("aria-label", on ? "Remove bookmark" : "Bookmark");
    },
  });
}

// "edited" on a post's own page opens its earlier versions (GET /api/v1/posts/{id}/history).
function historyToggle(post) {
  const panelId = `post-${post.id}-history`;
  const button = h("button", { type: "button", class: "link-button edited", "aria-expanded": "false", "aria-controls": panelId }, "edited");
  const panel = h("section", { id: panelId, class: "history", hidden: true, "aria-label": "Earlier versions" });
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (!open || panel.dataset.loaded) return;
    try {
      const page = await api.get(`/api/v1/posts/${post.id}/history`, { limit: 50 });
      panel.dataset.loaded = "1";
      panel.replaceChildren(h("h3", {}, "Earlier versions"), ...page.items.map((v) => h("div", { class: "version" },
        h("p", { class: "muted" }, time(v.created_at), " – replaced ", time(v.replaced_at)),
        v.title && h("p", { class: "version-title" }, v.title),
        h("p", {}, v.content))));
    } catch (e) {
      toast(e.detail || e.message, "error");
    }
  });
  return { button, panel };
}

// "Delete" → "Delete this post? [Yes, delete] [Cancel]" in place (no modal dialog).
export function confirmButton(label, question, action, name = null) {
  const wrap = h("span", { class: "confirm" });
  const start = h("button", { type: "button", class: "link-button danger", "aria-label": name || false }, label);
  const reset = () => {
    wrap.replaceChildren(start);
  };
  start.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger" }, `Yes, ${label.toLowerCase()}`);
    const no = h("button", { type: "button", class: "link-button" }, "Cancel");
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await action();
      } catch (e) {
        toast(e.detail || e.message, "error");
        reset();
      }
    });
    no.addEventListener("click", () => {
      reset();
      start.focus();
    });
    wrap.replaceChildren(h("span", { class: "question" }, question), " ", yes, " ", no);
    yes.focus();
  });
  wrap.append(start);
  return wrap;
}

export function followButton(user, onChange = () => {}) {
  return toggleButton({
    state: !!user.following, path: `/api/v1/users/${user.id}/follow`, key: "following", cls: "follow",
    paint: (button, following) => {
      button.textContent = following ? "Following" : "Follow";
      button.setAttribute("aria-label", `${following ? "Unfollow" : "Follow"} ${user.username}`);
      button.classList.toggle("primary", !following);
    },
    done: (_, answer) => onChange(answer),
  });
}

export function userRow(user) {
  const me = api.me();
  return h("div", { class: "user-row", "data-user-id": user.id },
    avatar(user),
    h("div", { class: "who" },
      userLink(user),
      h("span", { class: "handle" }, `@${user.username}`),
      user.bio ? h("p", { class: "bio" }, user.bio) : null),
    me && me.id !== user.id && "following" in user ? followButton(user) : null);
}

// One file upload with a progress bar: POST /api/v1/media (or another path) through XHR.
export function uploadItem(file, { path = "/api/v1/media", method = "POST", onDone = () => {}, onRemove = null } = {}) {
  const preview = URL.createObjectURL(file);
  const bar = h("progress", { max: "1", value: 0, "aria-label": `Uploading ${file.name}` });
  const state = h("span", { class: "upload-state" }, "Uploading…");
  const error = h("p", { class: "field-error", role: "alert" });
  const item = h("li", { class: "upload" },
    h("img", { src: preview, alt: `Selected image ${file.name}`, class: "upload-thumb" }),
    h("div", { class: "upload-info" }, h("span", { class: "upload-name" }, file.name), bar, state, error));
  const controller = new AbortController();
  if (onRemove) {
    item.append(h("button", { type: "button", class: "link-button", "aria-label": `Remove ${file.name}`, onClick: () => {
      controller.abort();
      URL.revokeObjectURL(preview);
      item.remove();
      onRemove();
    } }, "Remove"));
  }
  const done = api.upload(path, file, { method, signal: controller.signal, onProgress: (p) => { bar.value = p; } })
    .then((media) => {
      state.textContent = "Uploaded";
      bar.hidden = true;
      item.classList.add("done");
      onDone(media);
      return media;
    })
    .catch((e) => {
      if (e.name === "AbortError") return null;
      state.textContent = "Failed";
      bar.hidden = true;
      error.textContent = (e.errors && Object.values(e.errors).flat().join(" ")) || e.detail || e.message;
      item.classList.add("failed");
      return null;
    });
  return { item, done };
}
