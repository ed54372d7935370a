// Notifications, grouped as people read them ("alice, bob and 3 others liked your post"): newest
// group first, unread marked, new ones arrive live (the list is read again); "Mark all as read".

import * as api from "../api.js";
import { avatar, h, time } from "../dom.js";
import { pager } from "../components.js";

function target(group) {
  const actor = group.actors[0];
  if (!actor) return "#/notifications"; // report.resolved: moderators stay anonymous
  if (group.post_id) return `#/post/${group.post_id}`;
  if (group.type === "message" || group.type === "response") return `#/chat/${actor.id}`;
  if (group.type === "follow" && group.count > 1) return `#/@${api.me().username}/followers`;
  return `#/@${actor.username}`;
}

function item(group) {
  const unread = !group.is_read;
  const faces = h("span", { class: "faces" }, group.actors.slice(0, 3).map((a) => avatar(a, "s")));
  const link = h("a", { href: target(group), class: "note-link" },
    group.actors.length ? faces : avatar(null, "s"),
    h("span", { class: "note-text" }, group.message),
    time(group.latest_at),
    unread ? h("span", { class: "tag new" }, "New") : null);
  const row = h("li", { class: ["note", unread && "unread"], "data-group": group.group_key }, link);
  link.addEventListener("click", () => {
    if (unread) api.post("/api/v1/notifications/read", { group_key: group.group_key }).catch(() => {});
  });
  return row;
}

export async function notificationsView(ctx) {
  const list = pager({
    tag: "ul",
    label: "Notifications",
    empty: "No notifications yet.",
    load: (cursor) => api.get("/api/v1/notifications", { grouped: true, before: cursor }, { signal: ctx.signal }),
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
  // A new notification may join a group already shown: the first page is read again.
  ctx.rt.on("notification.created", () => list.reload(), ctx.signal);
  ctx.rt.on("reset", () => list.reload(), ctx.signal);
  await list.ready;
  return h("section", {},
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Notifications"), markAll),
    h("div", { class: "card" }, list.el));
}
