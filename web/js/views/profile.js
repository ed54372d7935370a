// Profiles (follow, message, posts), followers/following, people search, and editing one's own.

import * as api from "../api.js";
import { avatar, busy, clearErrors, displayName, field, h, plural, selectField, showErrors, time, toast } from "../dom.js";
import { confirmButton, followButton, pager, postCard, toggleButton, uploadItem, userRow } from "../components.js";

const lookup = (username, signal) => api.get("/api/v1/users/lookup", { username }, { signal });

// A block or mute button: PUT / DELETE /api/v1/users/{id}/{path}, answering `{[key]: bool}`.
function relationButton(user, { key, path, on, off, onChange = () => {} }) {
  const [done, undone] = key === "blocking" ? ["Blocked", "Unblocked"] : ["Muted", "Unmuted"];
  return toggleButton({
    state: !!user[key], path: `/api/v1/users/${user.id}/${path}`, key, cls: `relation relation-${key}`,
    paint: (button, state) => {
      button.textContent = state ? off : on;
      button.setAttribute("aria-label", `${state ? off : on} ${user.username}`);
      button.classList.toggle("danger", !state && key === "blocking");
    },
    done: (state) => {
      toast(`${state ? done : undone} @${user.username}.`);
      onChange(state);
    },
  });
}

// "Report": a small disclosure form (reason + optional comment) → POST /api/v1/reports.
function reportPanel(user) {
  const toggle = h("button", { type: "button", "aria-expanded": "false", "aria-label": `Report ${user.username}` }, "Report");
  const send = h("button", { type: "submit", class: "primary" }, "Send report");
  const cancel = h("button", { type: "button", class: "link-button" }, "Cancel");
  const form = h("form", { class: "report-form form", novalidate: true, hidden: true, "aria-label": `Report ${user.username}` },
    selectField({ label: "Reason", name: "reason", value: "spam", options: [
      ["spam", "Spam"], ["abuse", "Abuse or harassment"], ["illegal", "Illegal content"], ["other", "Something else"]] }),
    field({ label: "Details (optional)", name: "comment", multiline: true, rows: 3, maxlength: 1000 }),
    h("p", { class: "actions" }, send, cancel));
  const done = h("p", { class: "muted", role: "status" });
  const open = (yes) => {
    form.hidden = !yes;
    toggle.setAttribute("aria-expanded", String(yes));
    if (yes) form.elements.reason.focus();
  };
  toggle.addEventListener("click", () => {
    done.textContent = "";
    open(form.hidden);
  });
  cancel.addEventListener("click", () => {
    open(false);
    toggle.focus();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const comment = form.elements.comment.value.trim();
    const body = { target: "user", id: user.id, reason: form.elements.reason.value };
    if (comment) body.comment = comment;
    try {
      await busy(send, () => api.post("/api/v1/reports", body), "Sending…");
      form.reset();
      open(false);
      done.textContent = "Thank you: your report was sent to the moderators.";
      toggle.focus();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { toggle, panel: h("div", { class: "report" }, form, done) };
}

function profileHeader(user, ctx) {
  const me = api.me();
  const followers = h("a", { href: `#/@${user.username}/followers` }, plural(user.followers_count, "follower"));
  const actions = h("div", { class: "profile-actions" });
  let extra = null;
  if (me && me.id === user.id) {
    actions.append(h("a", { href: "#/settings", class: "button" }, "Edit profile"));
  } else if (me) {
    actions.append(
      followButton(user, (state) => { followers.textContent = plural(state.followers_count, "follower"); }),
      h("a", { href: `#/chat/${user.id}`, class: "button", "aria-label": `Message ${displayName(user)}` }, "Message"));
    const report = reportPanel(user);
    actions.append(
      relationButton(user, { key: "muting", path: "mute", on: "Mute", off: "Unmute" }),
      relationButton(user, { key: "blocking", path: "block", on: "Block", off: "Unblock", onChange: async () => {
        // a block removes the follows both ways: show the fresh counts and follow state
        try {
          const fresh = await api.get(`/api/v1/users/${user.id}`);
          const next = profileHeader(fresh, ctx);
          header.replaceWith(next);
          next.querySelector(".relation-blocking")?.focus();
        } catch {
          // the buttons already show the new state
        }
      } }),
      report.toggle);
    extra = report.panel;
  } else {
    actions.append(h("a", { href: `#/login?next=/@${user.username}`, class: "button" }, "Log in to follow"));
  }
  const online = ctx.presence.get(user.id);
  const header = h("header", { class: "card profile" },
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
      actions, extra));
  return header;
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
    pictureSection, profile, privacyForm(user), await notificationSettings(ctx), password, await sessionsSection(ctx));
}

// Who may message me: PATCH /users/me {dm_policy}.
function privacyForm(user) {
  const save = h("button", { type: "submit" }, "Save privacy");
  const form = h("form", { class: "card form", novalidate: true, "aria-labelledby": "privacy-title" },
    h("h2", { id: "privacy-title" }, "Privacy"),
    selectField({ label: "Who may message me", name: "dm_policy", value: user.dm_policy || "everyone",
      hint: "Messages from anyone else are refused; you keep your conversations.",
      options: [["everyone", "Everyone"], ["following", "Only people I follow"], ["nobody", "Nobody"]] }),
    save);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const updated = await busy(save, () => api.patch("/api/v1/users/me", { dm_policy: form.elements.dm_policy.value }), "Saving…");
      api.updateMe(updated);
      form.elements.dm_policy.value = updated.dm_policy;
      toast("Privacy saved.");
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

// Which notifications are stored and pushed: one switch per type, saved as it is flipped.
const NOTIFY = [["like", "Likes of my posts"], ["comment", "Comments on my posts"], ["comment_like", "Likes of my comments"],
  ["follow", "New followers"], ["mention", "Mentions of me"], ["message", "Messages"], ["response", "Replies to my messages"],
  ["report.resolved", "Outcomes of my reports"]];

async function notificationSettings(ctx) {
  const settings = await api.get("/api/v1/users/me/notification_settings", null, { signal: ctx.signal });
  const boxes = NOTIFY.filter(([key]) => key in settings).map(([key, label]) => {
    const input = h("input", { type: "checkbox", name: key, checked: settings[key] });
    input.addEventListener("change", async () => {
      input.disabled = true;
      try {
        const saved = await api.patch("/api/v1/users/me/notification_settings", { [key]: input.checked });
        input.checked = saved[key];
        toast(`${label}: ${saved[key] ? "on" : "off"}.`);
      } catch (error) {
        input.checked = !input.checked;
        toast(error.detail || error.message, "error");
      } finally {
        input.disabled = false;
      }
    });
    return h("li", {}, h("label", { class: "switch" }, input, " ", label));
  });
  return h("section", { class: "card", "aria-labelledby": "notify-title" },
    h("h2", { id: "notify-title" }, "Notifications"),
    h("p", { class: "hint" }, "What you turn off is neither kept nor sent to you."),
    h("ul", { class: "switches" }, boxes));
}

const KINDS = { browser: "Browser", api: "API client", conduit: "Conduit app" };

// The devices signed in: GET /auth/sessions, each with "Sign out" (DELETE /auth/sessions/{id}).
async function sessionsSection(ctx) {
  const list = h("ul", { class: "sessions", "aria-label": "Signed-in sessions" });
  const status = h("p", { class: "muted", role: "status" });
  const section = h("section", { class: "card", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title", tabindex: "-1" }, "Sessions"),
    h("p", { class: "hint" }, "Where your account is signed in. Signing a session out ends it on that device at once."),
    status, list);
  const count = () => {
    status.textContent = plural(list.children.length, "active session");
  };
  const row = (s) => {
    const label = `${KINDS[s.kind] || s.kind}${s.current ? " (this device)" : ""}`;
    const out = h("button", { type: "button", class: "danger", "aria-label": `Sign out ${label}, last used ${new Date(s.last_used_at).toLocaleString()}` }, "Sign out");
    const li = h("li", { class: "session", "data-session-id": s.id },
      h("div", { class: "who" },
        h("strong", {}, KINDS[s.kind] || s.kind), " ",
        s.current ? h("span", { class: "tag" }, "This device") : null,
        h("p", { class: "ua" }, s.user_agent || "Unknown device"),
        h("p", { class: "ua" }, s.ip ? `IP ${s.ip} · ` : "", "Last used ", time(s.last_used_at))),
      out);
    out.addEventListener("click", async () => {
      if (s.current) {
        await api.logout(); // ending this device's session is a logout
        return;
      }
      try {
        await busy(out, () => api.del(`/api/v1/auth/sessions/${s.id}`), "Signing out…");
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        count();
        (next?.querySelector("button") || section.querySelector("h2")).focus?.();
        toast("Session signed out.");
      } catch (error) {
        if (error.status === 404) {
          li.remove();
          count();
        } else {
          toast(error.detail || error.message, "error");
        }
      }
    });
    return li;
  };
  try {
    const page = await api.get("/api/v1/auth/sessions", { limit: 100 }, { signal: ctx.signal });
    list.append(...page.items.map(row));
    count();
  } catch (error) {
    if (error.name === "AbortError") throw error;
    status.textContent = `Sessions could not be loaded: ${error.detail || error.message}`;
  }
  return section;
}
