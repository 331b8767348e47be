// Log in: username and password, big fields, the server's error in the person's language.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

// The username survives a language switch (which redraws the screen); the password does not.
let draftUsername = "";

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const username = h("input", {
    id: "login-username", name: "username", type: "text", class: "input",
    autocomplete: "username", autocapitalize: "none", autocorrect: "off", spellcheck: "false",
    enterkeyhint: "next", required: true, "data-testid": "login-username",
    oninput: () => { draftUsername = username.value; },
  });
  username.value = draftUsername;
  const password = h("input", {
    id: "login-password", name: "password", type: "password", class: "input",
    autocomplete: "current-password", enterkeyhint: "go", required: true,
    "data-testid": "login-password",
  });
  const toggle = h("button", {
    type: "button", class: "btn btn-toggle", "aria-controls": "login-password",
    "aria-pressed": "false", "aria-label": t("login.show_password_label"),
    "data-testid": "login-toggle-password", onclick: togglePassword,
  }, t("login.show_password"));
  const error = h("p", { id: "login-error", class: "form-error", role: "alert",
    "data-testid": "login-error", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block",
    "data-testid": "login-submit" }, t("login.submit"));

  function togglePassword() {
    const show = password.type === "password";
    password.type = show ? "text" : "password";
    toggle.setAttribute("aria-pressed", String(show));
    toggle.setAttribute("aria-label", t(show ? "login.hide_password_label" : "login.show_password_label"));
    toggle.textContent = t(show ? "login.hide_password" : "login.show_password");
  }

  function showError(message, field) {
    error.textContent = message;
    error.hidden = false;
    for (const input of [username, password]) {
      if (input === field) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "login-error");
    }
    if (field) field.focus();
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    const name = username.value.trim();
    if (!name || !password.value) {
      showError(t("login.missing"), name ? password : username);
      return;
    }
    submit.disabled = true;
    submit.textContent = t("login.submitting");
    form.setAttribute("aria-busy", "true");
    try {
      const me = await api("/api/auth/login", {
        method: "POST", body: { username: name, password: password.value },
      });
      draftUsername = "";
      ctx.signedIn(me);
      return;
    } catch (err) {
      if (err instanceof NetworkError) {
        showError(t("error.offline"), null);
      } else if (err instanceof ApiError) {
        const wrongPassword = err.code === "invalid_credentials";
        if (wrongPassword) password.value = "";
        showError(err.message || t("error.generic"), wrongPassword ? password : null);
      } else {
        showError(t("error.generic"), null);
        throw err;
      }
    } finally {
      if (form.isConnected) {
        submit.disabled = false;
        submit.textContent = t("login.submit");
        form.removeAttribute("aria-busy");
      }
    }
  }

  const form = h("form", { class: "login-form", novalidate: true, "data-testid": "login-form",
    onsubmit: onSubmit },
    h("div", { class: "field" },
      h("label", { for: "login-username", class: "field-label" }, t("login.username")),
      username),
    h("div", { class: "field" },
      h("label", { for: "login-password", class: "field-label" }, t("login.password")),
      h("div", { class: "password-row" }, password, toggle)),
    error,
    submit);

  return h("section", { class: "login", "data-testid": "login-screen" },
    h("div", { class: "login-brand" },
      h("img", { src: "/static/icons/icon-192.png", alt: "", width: "64", height: "64" }),
      h("div", null,
        h("h1", { class: "page-title" }, t("login.title")),
        h("p", { class: "muted" }, t("login.subtitle")))),
    form);
}
