// The JSON API (/api/v1): bearer tokens kept in localStorage, refreshed once on a 401 (one tab at a
// time: a refresh token presented twice revokes the session), problem+json turned into ApiError.

const KEY = "chatter.session";
const events = new EventTarget();
let session = load();
let refreshing = null;

export class ApiError extends Error {
  constructor(status, body = {}, retryAfter = null) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || "Error";
    this.type = body.type || null; // urn:chatter:problem:<slug>
    this.detail = body.detail || null;
    this.errors = body.errors || null;
    this.retryAfter = retryAfter;
  }

  get slug() {
    return this.type ? this.type.split(":").pop() : null;
  }

  get network() {
    return this.status === 0;
  }
}

const networkError = () => new ApiError(0, { title: "Network error", detail: "The server cannot be reached. Check your connection." });

function load() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY));
    return value && value.access_token ? value : null;
  } catch {
    return null;
  }
}

function save(value) {
  session = value;
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  events.dispatchEvent(new Event("session"));
}

// Another tab logged in, out, or refreshed the tokens.
window.addEventListener("storage", (event) => {
  if (event.key !== KEY) return;
  const was = session && session.user.id;
  session = load();
  if ((session && session.user.id) !== was) events.dispatchEvent(new Event("session"));
});

export const onSession = (fn, options) => events.addEventListener("session", fn, options);
export const me = () => (session ? session.user : null);
export const loggedIn = () => session !== null;

export function setSession(body) {
  save({ access_token: body.access_token, refresh_token: body.refresh_token, user: body.user });
}

export function updateMe(user) {
  if (!session) return;
  session = { ...session, user: { ...session.user, ...user } };
  localStorage.setItem(KEY, JSON.stringify(session));
  events.dispatchEvent(new Event("me"));
}
export const onMe = (fn, options) => events.addEventListener("me", fn, options);

export function clearSession() {
  save(null);
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function problem(resp) {
  let body = {};
  try {
    body = await resp.json();
  } catch {
    body = { title: resp.statusText || `HTTP ${resp.status}` };
  }
  const retry = resp.headers.get("Retry-After");
  const error = new ApiError(resp.status, body, retry ? Number(retry) : null);
  if (resp.status === 429 && retry) error.detail = `${error.detail || "Too many requests."} Try again in ${retry} s.`;
  return error;
}

// Trade the refresh token for a new pair; serialized across tabs with the Web Locks API.
function refresh(usedAccess) {
  refreshing ??= withLock(async () => {
    const current = load();
    if (!current) throw new ApiError(401, { title: "Unauthorized", detail: "Please log in again." });
    if (current.access_token !== usedAccess) {
      session = current; // another tab refreshed while we waited
      return;
    }
    let resp;
    try {
      resp = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
    } catch {
      throw networkError();
    }
    if (!resp.ok) {
      const error = await problem(resp);
      if (resp.status === 401) clearSession();
      throw error;
    }
    setSession(await resp.json());
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withLock(fn) {
  return navigator.locks ? navigator.locks.request("chatter.refresh", fn) : fn();
}

function url(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request(method, path, { body, query, headers = {}, signal } = {}) {
  const send = () => {
    const h = { Accept: "application/json", ...headers };
    if (session) h.Authorization = `Bearer ${session.access_token}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    return fetch(url(path, query), { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal });
  };
  let resp;
  const used = session && session.access_token;
  try {
    resp = await send();
    if (resp.status === 401 && used) {
      await refresh(used);
      resp = await send();
    }
  } catch (error) {
    if (error instanceof ApiError || error.name === "AbortError") throw error;
    throw networkError();
  }
  if (resp.status === 204) return null;
  if (!resp.ok) throw await problem(resp);
  return resp.json();
}

export const get = (path, query, opts = {}) => request("GET", path, { query, ...opts });
export const post = (path, body, opts = {}) => request("POST", path, { body, ...opts });
export const patch = (path, body, opts = {}) => request("PATCH", path, { body, ...opts });
export const put = (path, body, opts = {}) => request("PUT", path, { body, ...opts });
export const del = (path, opts = {}) => request("DELETE", path, opts);

// A multipart upload (field `file`) through XMLHttpRequest, for its upload progress events.
export function upload(path, file, { method = "POST", onProgress = () => {}, signal } = {}) {
  const once = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader("Accept", "application/json");
    if (session) xhr.setRequestHeader("Authorization", `Bearer ${session.access_token}`);
    xhr.setRequestHeader("Idempotency-Key", uuid());
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => reject(networkError()));
    xhr.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    signal?.addEventListener("abort", () => xhr.abort());
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  const parse = (xhr) => {
    let body = {};
    try {
      body = JSON.parse(xhr.responseText || "{}");
    } catch {
      body = { title: xhr.statusText };
    }
    if (xhr.status >= 200 && xhr.status < 300) return body;
    const retry = xhr.getResponseHeader("Retry-After");
    throw new ApiError(xhr.status, body, retry ? Number(retry) : null);
  };
  return (async () => {
    const used = session && session.access_token;
    let xhr = await once();
    if (xhr.status === 401 && used) {
      await refresh(used);
      onProgress(0);
      xhr = await once();
    }
    onProgress(1);
    return parse(xhr);
  })();
}

// The session ends here at once; the server is told after (with a refresh if the token expired).
export async function logout() {
  const old = session;
  clearSession();
  if (!old) return;
  const call = (token) => fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  try {
    const resp = await call(old.access_token);
    if (resp.status !== 401) return;
    const renewed = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: old.refresh_token }),
    });
    if (renewed.ok) await call((await renewed.json()).access_token);
  } catch {
    // offline: the tokens are gone from this browser; the session expires on its own
  }
}
