// Profiles (follow, message, posts), followers/following, people search, and editing one's own.

import * as api from "../api.js";
import { avatar, busy, clearErrors, displayName, field, h, plural, showErrors, time, toast } from "../dom.js";
import { confirmButton, followButton, pager, postCard, uploadItem, userRow } from "../components.js";

const lookup = (username, signal) => api.get("/api/v1/users/lookup", { username }, { signal });

function profileHeader(user, ctx) {
  const me = api.me();
  const followers = h("a", { href: `#/@${user.username}/followers` }, plural(user.followers_count, "follower"));
  const actions = h("div", { class: "profile-actions" });
  if (me && me.id === user.id) {
    actions.append(h("a", { href: "#/settings", class: "button" }, "Edit profile"));
  } else if (me) {
    actions.append(
      followButton(user, (state) => { followers.textContent = plural(state.followers_count, "follower"); }),
      h("a", { href: `#/chat/${user.id}`, class: "button", "aria-label": `Message ${displayName(user)}` }, "Message"));
  } else {
    actions.append(h("a", { href: `#/login?next=/@${user.username}`, class: "button" }, "Log in to follow"));
  }
  const online = ctx.presence.get(user.id);
  return h("header", { class: "card profile" },
    avatar(user, "l"),
    h("div", { class: "profile-main" },
      h("h1", { tabindex: "-1" }, displayName(user)),
      h("p", { class: "handle" }, `@${user.username}`,
        user.followed_by ? h("span", { class: "tag" }, "Follows you") : null,
        online ? h("span", { class: "tag online" }, "Online") : null),
      user.bio ? h("p", { class: "bio" }, user.bio) : null,
      h("p", { class: "muted meta" },
        user.location ? h("span", {}, user.location) : null,
        h("span", {}, "Joined ", time(user.join_date || user.created_at, "day"))),
      h("p", { class: "stats" },
        followers,
        h("a", { href: `#/@${user.username}/following` }, `${user.following_count} following`),
        h("span", {}, plural(user.posts_count, "post"))),
      actions));
}

export async function profileView(ctx) {
  const user = await lookup(ctx.params.username, ctx.signal);
  const posts = pager({
    label: `Posts by ${user.username}`,
    empty: "No posts yet.",
    load: (cursor) => api.get(`/api/v1/users/${user.id}/posts`, { before: cursor }, { signal: ctx.signal }),
    render: (post) => postCard(post),
    signal: ctx.signal,
  });
  await posts.ready;
  return h("div", { class: "profile-page" }, profileHeader(user, ctx), h("h2", { class: "section-title" }, "Posts"), posts.el);
}

export async function relationsView(ctx) {
  const user = await lookup(ctx.params.username, ctx.signal);
  const kind = ctx.name; // followers | following
  const title = kind === "followers" ? `People following ${displayName(user)}` : `People ${displayName(user)} follows`;
  const list = pager({
    label: title,
    empty: kind === "followers" ? "No followers yet." : "Not following anyone yet.",
    load: (cursor) => api.get(`/api/v1/users/${user.id}/${kind}`, { before: cursor }, { signal: ctx.signal }),
    render: userRow,
    signal: ctx.signal,
  });
  await list.ready;
  return h("section", {},
    h("p", { class: "crumbs" }, h("a", { href: `#/@${user.username}` }, `← ${displayName(user)}`)),
    h("nav", { class: "tabs", "aria-label": "Followers and following" },
      h("a", { href: `#/@${user.username}/followers`, "aria-current": kind === "followers" ? "page" : false }, "Followers"),
      h("a", { href: `#/@${user.username}/following`, "aria-current": kind === "following" ? "page" : false }, "Following")),
    h("h1", { tabindex: "-1" }, title),
    h("div", { class: "card" }, list.el));
}

export async function peopleView(ctx) {
  const q = ctx.query.get("q") || "";
  const form = h("form", { class: "form search", role: "search" },
    field({ label: "Search people by username or name", name: "q", type: "search", value: q, "data-autofocus": true, autocomplete: "off" }),
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = form.elements.q.value.trim();
    ctx.navigate(value ? `/people?q=${encodeURIComponent(value)}` : "/people");
  });
  let results = h("p", { class: "muted" }, "Find someone to follow or to chat with.");
  if (q) {
    const list = pager({
      label: `People matching ${q}`,
      empty: `Nobody matches “${q}”.`,
      load: (cursor) => api.get("/api/v1/users", { q, before: cursor }, { signal: ctx.signal }),
      render: userRow,
      signal: ctx.signal,
    });
    await list.ready;
    results = h("div", { class: "card" }, list.el);
  }
  return h("section", {}, h("h1", { tabindex: "-1" }, "People"), form, results);
}

export async function settingsView(ctx) {
  const user = await api.get("/api/v1/users/me", null, { signal: ctx.signal });
  api.updateMe(user);

  // Picture
  const picture = h("div", { class: "avatar-preview" }, avatar(user, "l"));
  const uploads = h("ul", { class: "uploads" });
  const picker = h("input", { type: "file", id: "avatar-file", name: "file", accept: "image/jpeg,image/png,image/webp,image/gif", class: "visually-hidden-file" });
  const removeSlot = h("span", {});
  const setPicture = (u) => {
    api.updateMe(u);
    picture.replaceChildren(avatar(u, "l"));
    removeSlot.replaceChildren(u.profile_pic ? confirmButton("Remove picture", "Remove your picture?", async () => {
      setPicture(await api.del("/api/v1/users/me/avatar"));
      toast("Picture removed.");
    }) : "");
  };
  setPicture(user);
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    picker.value = "";
    if (!file) return;
    const { item, done } = uploadItem(file, { path: "/api/v1/users/me/avatar", method: "PUT" });
    uploads.replaceChildren(item);
    done.then((u) => {
      if (!u) return;
      setPicture(u);
      toast("Picture updated.");
      setTimeout(() => item.remove(), 1500);
    });
  });
  const pictureSection = h("section", { class: "card", "aria-labelledby": "picture-title" },
    h("h2", { id: "picture-title" }, "Picture"),
    h("div", { class: "picture-row" }, picture,
      h("div", {}, h("label", { class: "file-button" }, "Upload a new picture", picker), " ", removeSlot)),
    uploads);

  // Profile
  const save = h("button", { type: "submit", class: "primary" }, "Save profile");
  const profile = h("form", { class: "card form", novalidate: true, "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Profile"),
    field({ label: "Full name", name: "full_name", value: user.full_name || "", maxlength: 100, autocomplete: "name" }),
    field({ label: "Bio", name: "bio", value: user.bio || "", multiline: true, rows: 3, maxlength: 500 }),
    field({ label: "Location", name: "location", value: user.location || "", maxlength: 100 }),
    save);
  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(profile);
    const body = {};
    for (const name of ["full_name", "bio", "location"]) body[name] = profile.elements[name].value.trim() || null;
    try {
      api.updateMe(await busy(save, () => api.patch("/api/v1/users/me", body), "Saving…"));
      toast("Profile saved.");
    } catch (error) {
      showErrors(profile, error);
    }
  });

  // Password
  const change = h("button", { type: "submit" }, "Change password");
  const password = h("form", { class: "card form", novalidate: true, "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Password"),
    field({ label: "Current password", name: "current_password", type: "password", autocomplete: "current-password" }),
    field({ label: "New password", name: "new_password", type: "password", autocomplete: "new-password", hint: "At least 8 characters. Your other sessions are logged out." }),
    change);
  password.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(password);
    try {
      await busy(change, () => api.post("/api/v1/auth/password/change", {
        current_password: password.elements.current_password.value, new_password: password.elements.new_password.value }));
      password.reset();
      toast("Password changed.");
    } catch (error) {
      showErrors(password, error, { "status:403": "current_password" });
    }
  });

  return h("section", { class: "settings" },
    h("p", { class: "crumbs" }, h("a", { href: `#/@${user.username}` }, "← Your profile")),
    h("h1", { tabindex: "-1" }, "Edit profile"),
    pictureSection, profile, password);
}
