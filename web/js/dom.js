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

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
