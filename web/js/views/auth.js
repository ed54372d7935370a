// Log in and register. Errors from problem+json land next to the field they name.

import * as api from "../api.js";
import { busy, clearErrors, field, h, showErrors } from "../dom.js";

export function loginView() {
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "card form", novalidate: true, "aria-labelledby": "login-title" },
    field({ label: "Username or email", name: "login", autocomplete: "username", required: true, "data-autofocus": true }),
    field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { login: form.elements.login.value.trim(), password: form.elements.password.value };
    const missing = {};
    if (!body.login) missing.login = ["Enter your username or email."];
    if (!body.password) missing.password = ["Enter your password."];
    if (Object.keys(missing).length) return showErrors(form, { errors: missing });
    try {
      const result = await busy(submit, () => api.post("/api/v1/auth/login", body), "Logging in…");
      api.setSession(result); // the shell goes on to ?next=
    } catch (error) {
      showErrors(form, error, { "status:401": "password" });
    }
  });
  return h("section", { class: "auth" },
    h("h1", { id: "login-title", tabindex: "-1" }, "Log in to Chatter"),
    form,
    h("p", { class: "muted" }, "New here? ", h("a", { href: "#/register" }, "Create an account")));
}

export function registerView() {
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h("form", { class: "card form", novalidate: true, "aria-labelledby": "register-title" },
    field({ label: "Username", name: "username", autocomplete: "username", required: true, maxlength: 30,
      hint: "3–30 letters, digits or _", "data-autofocus": true }),
    field({ label: "Email", name: "email", type: "email", autocomplete: "email", required: true }),
    field({ label: "Full name", name: "full_name", autocomplete: "name", maxlength: 100, hint: "Optional" }),
    field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", required: true,
      hint: "At least 8 characters" }),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      username: form.elements.username.value.trim(),
      email: form.elements.email.value.trim(),
      password: form.elements.password.value,
    };
    const fullName = form.elements.full_name.value.trim();
    if (fullName) body.full_name = fullName;
    try {
      const result = await busy(submit, () => api.post("/api/v1/auth/register", body), "Creating…");
      api.setSession(result); // the shell goes on to ?next=
    } catch (error) {
      showErrors(form, error);
    }
  });
  return h("section", { class: "auth" },
    h("h1", { id: "register-title", tabindex: "-1" }, "Create your account"),
    form,
    h("p", { class: "muted" }, "Already have an account? ", h("a", { href: "#/login" }, "Log in")));
}
