// Notifications: newest first, unread marked, new ones arrive live; "Mark all as read".

import * as api from "../api.js";
import { avatar, h, time } from "../dom.js";
import { pager } from "../components.js";

function target(note) {
  if (!note.actor) return "#/notifications"; // report.resolved: moderators stay anonymous
  if (note.post_id) return `#/post/${note.post_id}`;
  if (note.type === "message" || note.type === "response") return `#/chat/${note.actor.id}`;
  return `#/@${note.actor.username}`;
}

function item(note) {
  const link = h("a", { href: target(note), class: "note-link" },
    avatar(note.actor, "s"),
    h("span", { class: "note-text" }, note.message),
    time(note.created_at),
    note.is_read ? null : h("span", { class: "tag new" }, "New"));
  const row = h("li", { class: ["note", !note.is_read && "unread"], "data-id": note.id }, link);
  link.addEventListener("click", () => {
    if (!note.is_read) api.post("/api/v1/notifications/read", { ids: [note.id] }).catch(() => {});
  });
  return row;
}

export async function notificationsView(ctx) {
  const list = pager({
    tag: "ul",
    label: "Notifications",
    empty: "No notifications yet.",
    load: (cursor) => api.get("/api/v1/notifications", { before: cursor }, { signal: ctx.signal }),
    render: item,
    signal: ctx.signal,
  });
  const markAll = h("button", { type: "button" }, "Mark all as read");
  markAll.addEventListener("click", async () => {
    markAll.disabled = true;
    try {
      const result = await api.post("/api/v1/notifications/read", {});
      ctx.badges.notifications = result.unread_count;
      for (const row of list.list.querySelectorAll(".note.unread")) {
        row.classList.remove("unread");
        row.querySelector(".tag.new")?.remove();
      }
      ctx.refreshBadges();
    } finally {
      markAll.disabled = false;
    }
  });
  ctx.rt.on("notification.created", (note) => list.prepend(note), ctx.signal);
  ctx.rt.on("reset", () => list.reload(), ctx.signal);
  await list.ready;
  return h("section", {},
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Notifications"), markAll),
    h("div", { class: "card" }, list.el));
}
