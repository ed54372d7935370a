// The shell: navigation with live badges, the connection status, and a fragment router (#/...).

import * as api from "./api.js";
import { avatar, clear, h, icon, plural, toast } from "./dom.js";
import { Realtime } from "./realtime.js";
import { loginView, registerView } from "./views/auth.js";
import { chatView, conversationsView } from "./views/chat.js";
import { bookmarksView, exploreView, homeView } from "./views/feed.js";
import { notificationsView } from "./views/notifications.js";
import { postView } from "./views/post.js";
import { searchView, tagView } from "./views/search.js";
import { peopleView, profileView, relationsView, settingsView } from "./views/profile.js";

const rt = new Realtime();
const app = {
  rt,
  presence: new Map(), // user id → online
  badges: { notifications: 0, messages: 0 },
  route: { name: "", params: {} },
};

const routes = [
  ["home", /^\/$/, homeView, { auth: false }],
  ["explore", /^\/explore$/, exploreView],
  ["login", /^\/login$/, loginView, { guest: true }],
  ["register", /^\/register$/, registerView, { guest: true }],
  ["post", /^\/post\/(?<id>\d+)$/, postView],
  ["followers", /^\/@(?<username>\w+)\/followers$/, relationsView],
  ["following", /^\/@(?<username>\w+)\/following$/, relationsView],
  ["profile", /^\/@(?<username>\w+)$/, profileView],
  ["people", /^\/people$/, peopleView],
  ["search", /^\/search$/, searchView],
  ["bookmarks", /^\/bookmarks$/, bookmarksView, { auth: true }],
  ["tag", /^\/tags\/(?<tag>[^/?#]+)$/, tagView],
  ["settings", /^\/settings$/, settingsView, { auth: true }],
  ["messages", /^\/messages$/, conversationsView, { auth: true }],
  ["chat", /^\/chat\/(?<id>\d+)$/, chatView, { auth: true }],
  ["notifications", /^\/notifications$/, notificationsView, { auth: true }],
];

const main = document.getElementById("main");
let current = null; // AbortController of the mounted view
let firstRender = true; // on page load the focus stays at the top (skip link first)

export function navigate(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (location.hash === target) return render();
  if (replace) location.replace(target);
  else location.hash = target;
}
app.navigate = navigate;

function parse() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

async function render() {
  if (location.hash && !location.hash.startsWith("#/")) return; // an in-page anchor (skip link)
  const { path, query } = parse();
  const match = routes.find(([, re]) => re.test(path));
  current?.abort();
  const controller = new AbortController();
  current = controller;
  if (!match) {
    clear(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back home")));
    return;
  }
  const [name, re, view, opts = {}] = match;
  if (opts.auth && !api.loggedIn()) return navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
  if (opts.guest && api.loggedIn()) return navigate("/", { replace: true });
  app.route = { name, params: path.match(re).groups || {}, query };
  updateNav();
  const ctx = { ...app, signal: controller.signal, params: app.route.params, query, name };
  main.dataset.view = name;
  clear(main, h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const el = await view(ctx);
    if (controller.signal.aborted) return;
    clear(main, el);
  } catch (error) {
    if (controller.signal.aborted || error.name === "AbortError") return;
    const notFound = error.status === 404;
    clear(main,
      h("h1", { tabindex: "-1" }, notFound ? "Not found" : "Something went wrong"),
      h("p", { class: "form-error", role: "alert" }, error.detail || error.message),
      h("p", {}, h("button", { type: "button", onClick: () => render() }, "Try again"), " ", h("a", { href: "#/" }, "Home")));
  }
  document.title = `${main.querySelector("h1")?.textContent || "Chatter"} · Chatter`;
  // After a navigation, focus moves to the new screen (its first field, or its heading).
  const focus = main.querySelector("[data-autofocus]") || (!firstRender && main.querySelector("h1"));
  if (focus && !main.contains(document.activeElement)) focus.focus({ preventScroll: true });
  firstRender = false;
  window.scrollTo(0, 0);
}

// --- navigation and badges -------------------------------------------------------------------

const nav = document.getElementById("nav");

function badge(count, label) {
  return h("span", { class: "badge", hidden: count === 0, "aria-label": plural(count, label), "data-count": count }, count > 99 ? "99+" : String(count));
}

function navLink(href, text, name, extra = null, iconName = null) {
  const active = app.route.name === name;
  return h("a", { href, class: ["nav-link", `nav-${name}`], "aria-current": active ? "page" : false },
    iconName && icon(iconName), h("span", { class: iconName ? "nav-text" : "" }, text), extra);
}

function updateNav() {
  const me = api.me();
  if (!me) {
    clear(nav,
      navLink("#/explore", "Explore", "explore"),
      navLink("#/people", "People", "people"),
      navLink("#/search", "Search", "search"),
      navLink("#/login", "Log in", "login"),
      navLink("#/register", "Sign up", "register"));
    return;
  }
  clear(nav,
    navLink("#/", "Home", "home", null, "home"),
    navLink("#/explore", "Explore", "explore", null, "explore"),
    navLink("#/people", "People", "people", null, "people"),
    navLink("#/search", "Search", "search", null, "search"),
    navLink("#/messages", "Messages", "messages", badge(app.badges.messages, "unread message"), "messages"),
    navLink("#/notifications", "Notifications", "notifications", badge(app.badges.notifications, "unread notification"), "bell"),
    h("a", { href: `#/@${me.username}`, class: "nav-link nav-me", "aria-label": `Your profile (${me.username})`,
      "aria-current": app.route.name === "profile" && app.route.params.username === me.username ? "page" : false },
    avatar(me, "s"), h("span", { class: "nav-text" }, "Profile")),
    h("button", { type: "button", class: "nav-link link-button", onClick: logout }, icon("logout"), h("span", { class: "nav-text" }, "Log out")));
}

let badgeTimer = null;
function refreshBadges() {
  clearTimeout(badgeTimer);
  badgeTimer = setTimeout(async () => {
    if (!api.loggedIn()) return;
    try {
      const [count, conversations] = await Promise.all([
        api.get("/api/v1/notifications/unread_count"),
        api.get("/api/v1/conversations", { limit: 100 }),
      ]);
      app.badges.notifications = count.count;
      app.badges.messages = conversations.items.reduce((sum, c) => sum + c.unread_count, 0);
      updateNav();
    } catch {
      // the next event tries again
    }
  }, 150);
}
app.refreshBadges = refreshBadges;

// --- connection status -----------------------------------------------------------------------

const status = document.getElementById("conn");
rt.on("state", ({ state }) => {
  status.dataset.state = state;
  status.textContent = state === "reconnecting" ? "Reconnecting…" : state === "online" ? "Live" : state === "connecting" ? "Connecting…" : "";
  status.title = state === "online" ? "Connected: updates arrive live" : "";
});

// --- live events that matter on every screen ---------------------------------------------------

rt.on("hello", refreshBadges);
rt.on("reset", refreshBadges);
rt.on("notification.read", (data) => {
  app.badges.notifications = data.unread_count;
  updateNav();
});
rt.on("notification.created", (note) => {
  refreshBadges();
  const chat = note.type === "message" || note.type === "response";
  const seen = (chat && (app.route.name === "messages" || (app.route.name === "chat" && Number(app.route.params.id) === note.actor?.id)))
    || app.route.name === "notifications";
  if (!seen) toast(note.message);
});
rt.on("message.created", (msg) => {
  if (msg.recipient_id === api.me()?.id) refreshBadges();
});
rt.on("message.read", (data) => {
  if (data.reader_id === api.me()?.id) refreshBadges();
});
rt.on("presence", ({ user_id: userId, online }) => app.presence.set(userId, online));
rt.on("revoked", () => {
  if (!api.loggedIn()) return;
  api.clearSession();
  toast("Your session has ended. Please log in again.");
});

// --- session ---------------------------------------------------------------------------------

async function logout() {
  rt.stop();
  await api.logout();
  toast("You are logged out.");
}

function sessionChanged() {
  app.badges = { notifications: 0, messages: 0 };
  app.presence.clear();
  if (api.loggedIn()) {
    rt.start();
    refreshBadges();
  } else {
    rt.stop();
  }
  updateNav();
  const { path, query } = parse();
  const match = routes.find(([, re]) => re.test(path));
  const next = query.get("next");
  if (!api.loggedIn() && match && match[3]?.auth) navigate("/login", { replace: true });
  else if (api.loggedIn() && match && match[3]?.guest) navigate(next && next.startsWith("/") ? next : "/", { replace: true });
  else render();
}

api.onSession(sessionChanged);
api.onMe(updateNav);
window.addEventListener("hashchange", render);
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

if (api.loggedIn()) {
  rt.start();
  refreshBadges();
  // The stored user may be stale (an edit in another tab): refresh it quietly.
  api.get("/api/v1/users/me").then(api.updateMe).catch(() => {});
}
render();
