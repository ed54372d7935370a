// Search (posts by full text, people and tags by prefix) and a tag's page (its posts, follow).

import * as api from "../api.js";
import { field, h, toast } from "../dom.js";
import { pager, postCard, toggleButton, userRow } from "../components.js";

const KINDS = [["posts", "Posts"], ["users", "People"], ["tags", "Tags"]];

function tagLink(name) {
  return h("a", { href: `#/tags/${encodeURIComponent(name)}`, class: "tag-link" }, `#${name}`);
}

export async function searchView(ctx) {
  const q = ctx.query.get("q") || "";
  const type = KINDS.some(([k]) => k === ctx.query.get("type")) ? ctx.query.get("type") : "posts";
  const kind = h("select", { name: "type", id: "search-type", "aria-label": "What to search" },
    KINDS.map(([value, label]) => h("option", { value, selected: value === type }, label)));
  const form = h("form", { class: "form search", role: "search" },
    field({ label: "Search posts, people or tags", name: "q", type: "search", value: q, "data-autofocus": true, autocomplete: "off", maxlength: 200 }),
    h("div", { class: "form-row" }, kind, h("button", { type: "submit", class: "primary" }, "Search")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = form.elements.q.value.trim();
    ctx.navigate(value ? `/search?q=${encodeURIComponent(value)}&type=${kind.value}` : "/search");
  });
  let results = h("p", { class: "muted" },
    "Every word counts; \"quotes\" find a phrase, -word leaves posts out, photo* finds words that start with photo.");
  if (q) {
    const render = type === "posts" ? (post) => postCard(post)
      : type === "users" ? userRow
        : (tag) => h("p", { class: "tag-row" }, tagLink(tag.name));
    const list = pager({
      label: `Search results for ${q}`,
      empty: `Nothing matches “${q}”.`,
      // Relevance is no keyset: the cursor is an offset.
      load: (cursor) => api.get("/api/v1/search", { q, type, offset: cursor, limit: 20 }, { signal: ctx.signal }),
      render,
      signal: ctx.signal,
    });
    await list.ready;
    results = type === "posts" ? list.el : h("div", { class: "card" }, list.el);
  }
  const trending = await api.get("/api/v1/tags/trending", { limit: 10 }, { signal: ctx.signal }).catch(() => ({ items: [] }));
  const aside = trending.items.length
    ? h("aside", { class: "card trending", "aria-label": "Trending tags" }, h("h2", {}, "Trending"),
      h("ul", {}, trending.items.map((t) => h("li", {}, tagLink(t.tag), " ", h("span", { class: "muted" }, `${t.authors} ${t.authors === 1 ? "person" : "people"}`)))))
    : null;
  return h("section", {}, h("h1", { tabindex: "-1" }, "Search"), form, aside, results);
}

async function followsTag(tag, signal) {
  // The first pages of the followed tags (newest first) are enough to tell, bounded.
  let cursor = null;
  for (let i = 0; i < 5; i += 1) {
    const page = await api.get("/api/v1/tags/followed", { before: cursor, limit: 50 }, { signal });
    if (page.items.some((t) => t.tag === tag)) return true;
    if (!page.next_cursor) return false;
    cursor = page.next_cursor;
  }
  return false;
}

export async function tagView(ctx) {
  const tag = decodeURIComponent(ctx.params.tag).replace(/^#/, "").toLowerCase();
  const feed = pager({
    label: `Posts tagged ${tag}`,
    empty: `No posts carry #${tag} yet.`,
    load: (cursor) => api.get(`/api/v1/tags/${encodeURIComponent(tag)}/posts`, { before: cursor, limit: 20 }, { signal: ctx.signal }),
    render: (post) => postCard(post),
    signal: ctx.signal,
  });
  let follow = null;
  if (api.loggedIn()) {
    follow = toggleButton({
      state: await followsTag(tag, ctx.signal), path: `/api/v1/tags/${encodeURIComponent(tag)}/follow`,
      key: "following", cls: "follow",
      paint: (button, following) => {
        button.textContent = following ? "Following" : "Follow";
        button.setAttribute("aria-label", `${following ? "Unfollow" : "Follow"} #${tag}`);
        button.classList.toggle("primary", !following);
      },
      done: (following) => toast(following ? `Posts with #${tag} will show in your home feed.` : `You no longer follow #${tag}.`),
    });
  }
  await feed.ready;
  return h("section", { class: "timeline" },
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, `#${tag}`), follow),
    feed.el);
}
