// Home timeline (with the composer) and the public timeline, each with "load more".

import * as api from "../api.js";
import { busy, clearErrors, field, h, showErrors, toast } from "../dom.js";
import { pager, postCard, uploadItem } from "../components.js";

export function composer({ onPosted }) {
  const uploads = [];
  const list = h("ul", { class: "uploads", "aria-label": "Images to attach" });
  const picker = h("input", { type: "file", id: "compose-images", accept: "image/jpeg,image/png,image/webp,image/gif", multiple: true, class: "visually-hidden-file" });
  const submit = h("button", { type: "submit", class: "primary" }, "Post");
  const form = h("form", { class: "card form compose", novalidate: true, "aria-label": "New post" },
    field({ label: "Title (optional)", name: "title", maxlength: 100 }),
    field({ label: "What's happening?", name: "content", multiline: true, rows: 3, maxlength: 5000, required: true }),
    list,
    h("p", { class: "field-error", "data-error-for": "media_ids" }),
    h("div", { class: "form-row" },
      h("label", { class: "file-button" }, "Add images", picker),
      submit));
  const syncSubmit = () => {
    submit.disabled = uploads.some((u) => u.pending);
  };
  picker.addEventListener("change", () => {
    for (const file of picker.files) {
      if (uploads.length >= 4) {
        toast("A post carries at most 4 images.", "error");
        break;
      }
      const entry = { pending: true, media: null };
      const { item, done } = uploadItem(file, {
        onRemove: () => {
          uploads.splice(uploads.indexOf(entry), 1);
          syncSubmit();
        },
      });
      uploads.push(entry);
      list.append(item);
      done.then((media) => {
        entry.pending = false;
        entry.media = media;
        syncSubmit();
      });
    }
    picker.value = "";
    syncSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const content = form.elements.content.value;
    if (!content.trim()) return showErrors(form, { errors: { content: ["Write something first."] } });
    const body = { content };
    const title = form.elements.title.value.trim();
    if (title) body.title = title;
    const ids = uploads.filter((u) => u.media).map((u) => u.media.id);
    if (ids.length) body.media_ids = ids;
    try {
      const post = await busy(submit, () => api.post("/api/v1/posts", body, { headers: { "Idempotency-Key": api.uuid() } }), "Posting…");
      form.reset();
      uploads.length = 0;
      list.replaceChildren();
      onPosted(post);
      toast("Posted.");
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

function timeline({ title, path, ctx, intro = null, compose = false }) {
  const feed = pager({
    label: title,
    empty: compose ? "Your home timeline is empty: follow people (see People) or write the first post." : "No posts yet.",
    load: (cursor) => api.get(path, { before: cursor, limit: 20 }, { signal: ctx.signal }),
    render: (post) => postCard(post),
    signal: ctx.signal,
  });
  const refresh = h("button", { type: "button", class: "link-button", onClick: () => feed.reload() }, "Refresh");
  const saved = compose && h("a", { href: "#/bookmarks", class: "link-button" }, "Saved posts");
  const view = h("section", { class: "timeline" },
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, title), h("span", { class: "head-links" }, saved, refresh)),
    intro,
    compose && composer({ onPosted: (post) => feed.prepend(post) }),
    feed.el);
  return feed.ready.then(() => view);
}

export function homeView(ctx) {
  if (!api.loggedIn()) {
    const intro = h("div", { class: "card welcome" },
      h("p", {}, "Chatter is a small social network: posts with pictures, comments and likes, and one-to-one chat that arrives live."),
      h("p", {}, h("a", { href: "#/register", class: "button primary" }, "Create an account"), " ", h("a", { href: "#/login", class: "button" }, "Log in")));
    return timeline({ title: "Latest posts", path: "/api/v1/posts", ctx, intro });
  }
  return timeline({ title: "Home", path: "/api/v1/feed", ctx, compose: true });
}

export function exploreView(ctx) {
  return timeline({ title: "Explore", path: "/api/v1/posts", ctx });
}

// The viewer's bookmarks, newest bookmark first (the cursor is the bookmark's, not the post's).
export async function bookmarksView(ctx) {
  const list = pager({
    label: "Saved posts",
    empty: "Nothing saved yet: “Save” on a post keeps it here, for your eyes only.",
    load: (cursor) => api.get("/api/v1/bookmarks", { before: cursor, limit: 20 }, { signal: ctx.signal }),
    render: (post) => postCard(post),
    signal: ctx.signal,
  });
  await list.ready;
  return h("section", { class: "timeline" }, h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Saved posts")), list.el);
}
