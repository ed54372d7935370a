// Small DOM helpers: elements are built with h(), never parsed from HTML strings.

let counter = 0;
export const uid = (prefix = "id") => `${prefix}-${++counter}`;

const PROPS = new Set(["value", "checked", "indeterminate"]);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const show = (el, visible = true) => { el.hidden = !visible; return el; };

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dayDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export function ago(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return rtf.format(Math.round(seconds / 86400), "day");
  return dayDate.format(new Date(iso));
}

export function time(iso, style = "ago") {
  const date = new Date(iso);
  const text = style === "clock" ? shortTime.format(date) : style === "day" ? dayDate.format(date) : ago(iso);
  return h("time", { datetime: iso, title: fullDate.format(date) }, text);
}

function hash(text) {
  let n = 0;
  for (const ch of text) n = (n * 31 + ch.codePointAt(0)) >>> 0;
  return n;
}

// A user's picture, or their initial on a colour picked from the username.
export function avatar(user, size = "m") {
  if (user && user.profile_pic) {
    return h("img", { class: `avatar avatar-${size}`, src: user.profile_pic, alt: "", loading: "lazy" });
  }
  const name = (user && (user.full_name || user.username)) || "?";
  return h("span", { class: `avatar avatar-${size} avatar-c${hash(name) % 8}`, "aria-hidden": "true" },
    [...name][0].toUpperCase());
}

export const displayName = (user) => (user && (user.full_name || user.username)) || "someone";

export function userLink(user, cls = "user-link") {
  return h("a", { href: `#/@${encodeURIComponent(user.username)}`, class: cls }, displayName(user));
}

// A labelled form field with a slot for its problem+json error (data-error-for="name").
export function field({ label, name, type = "text", value = "", multiline = false, hint = null, ...attrs }) {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const describedby = [hintId, errorId].filter(Boolean).join(" ");
  const input = multiline
    ? h("textarea", { id, name, "aria-describedby": describedby, ...attrs })
    : h("input", { id, name, type, "aria-describedby": describedby, ...attrs });
  input.value = value ?? "";
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    hint && h("p", { class: "hint", id: hintId }, hint),
    input,
    h("p", { class: "field-error", id: errorId, "data-error-for": name }));
}

// A labelled <select> with the same error slot as field(); options are [value, label] pairs.
export function selectField({ label, name, options, value = "", hint = null, ...attrs }) {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const select = h("select", { id, name, "aria-describedby": [hintId, errorId].filter(Boolean).join(" "), ...attrs },
    options.map(([v, text]) => h("option", { value: v }, text)));
  select.value = value;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    hint && h("p", { class: "hint", id: hintId }, hint),
    select,
    h("p", { class: "field-error", id: errorId, "data-error-for": name }));
}

// problem+json on a form: each `errors` entry next to its field, the rest in the form's alert.
export function showErrors(form, error, aliases = {}) {
  clearErrors(form);
  const leftover = [];
  const fieldErrors = (error && error.errors) || {};
  for (const [name, messages] of Object.entries(fieldErrors)) {
    const key = aliases[name] || name;
    const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    const text = flatten(messages).join(" ");
    if (slot) {
      slot.textContent = text;
      const input = form.elements.namedItem(key);
      if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
    } else {
      leftover.push(name.startsWith("_") ? text : `${name}: ${text}`);
    }
  }
  const alias = error && aliases[`status:${error.status}`];
  if (alias && !Object.keys(fieldErrors).length) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(alias)}"]`);
    if (slot) {
      slot.textContent = error.detail || error.title;
      form.elements.namedItem(alias)?.setAttribute("aria-invalid", "true");
      focusFirstInvalid(form);
      return;
    }
  }
  if (!Object.keys(fieldErrors).length || leftover.length) {
    const message = leftover.length ? leftover.join(" ") : (error && (error.detail || error.title)) || "Something went wrong.";
    formAlert(form, message);
  }
  focusFirstInvalid(form);
}

function flatten(messages) {
  if (Array.isArray(messages)) return messages.flatMap(flatten);
  if (messages && typeof messages === "object") return Object.values(messages).flatMap(flatten);
  return [String(messages)];
}

function focusFirstInvalid(form) {
  const bad = form.querySelector("[aria-invalid=true]");
  if (bad) bad.focus();
}

export function formAlert(form, message) {
  let alert = form.querySelector(":scope > .form-error");
  if (!alert) {
    alert = h("p", { class: "form-error", role: "alert" });
    form.prepend(alert);
  }
  alert.textContent = message;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
  form.querySelector(":scope > .form-error")?.remove();
}

// Disable a form's submit button while `work` runs.
export async function busy(button, work, label = null) {
  const before = button.textContent;
  button.disabled = true;
  if (label) button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    if (label) button.textContent = before;
  }
}

// A short message in the corner; at most three at a time, the oldest go first.
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 4000);
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// Line icons (24×24, stroked with the text colour), built as SVG elements.
const ICONS = {
  home: ["M3 11.5 12 4l9 7.5", "M5.5 10v10h5v-6h3v6h5V10"],
  explore: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "m15.5 8.5-2 5-5 2 2-5z"],
  search: ["M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13z", "m15.5 15.5 5 5"],
  people: ["M9 4.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7z", "M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6", "M16 4.7a3.5 3.5 0 0 1 0 6.6", "M18.5 14.3c1.8.8 3 2.9 3 5.7"],
  messages: ["M4 5h16v11H9.5L5 20v-4H4z"],
  bell: ["M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15z", "M10 20.5a2 2 0 0 0 4 0"],
  logout: ["M14 4h5v16h-5", "M10 8l-4 4 4 4", "M6 12h10"],
  image: ["M4 5h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z", "M8.5 8.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z", "m21 16-5-5-9 8"],
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: "22", height: "22", fill: "none", stroke: "currentColor",
    "stroke-width": "1.8", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", class: "icon" })) {
    svg.setAttribute(k, v);
  }
  for (const d of ICONS[name]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
