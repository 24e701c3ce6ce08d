// Changing one's own password, in every console: `POST /api/password` with the current and the
// new one. Forced after an administrator set the password (the server refuses everything else
// until then), offered from the header's "Password" button otherwise. The form is built here so
// the three consoles share it without repeating its markup.
import { t } from "./common.js";

/** The shortest password the server accepts (signaling/src/passwords.rs). */
export const MIN_PASSWORD_CHARS = 10;

function field(id, labelKey, autocomplete) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.dataset.i18n = labelKey;
  label.textContent = t(labelKey);
  const input = document.createElement("input");
  input.id = id;
  input.type = "password";
  input.required = true;
  input.autocomplete = autocomplete;
  input.dataset.testid = id;
  const error = document.createElement("p");
  error.id = `${id}-error`;
  error.className = "field-error";
  error.hidden = true;
  input.setAttribute("aria-describedby", error.id);
  wrap.append(label, input, error);
  return { wrap, input, error };
}

/**
 * The password form, inserted after `#login-section`. `open({ forced })` shows it in place of
 * the console; `onDone()` runs after a change (or a cancel, when not forced).
 */
export class PasswordChange {
  constructor({ onDone }) {
    this.onDone = onDone;
    this.forced = false;
    const section = document.createElement("section");
    section.id = "password-section";
    section.className = "card narrow";
    section.hidden = true;
    section.setAttribute("aria-labelledby", "password-heading");
    const heading = document.createElement("h2");
    heading.id = "password-heading";
    heading.dataset.i18n = "password.title";
    heading.textContent = t("password.title");
    heading.tabIndex = -1;
    this.note = document.createElement("p");
    this.note.id = "password-note";
    const form = document.createElement("form");
    form.id = "password-form";
    form.dataset.testid = "password-form";
    form.noValidate = true;
    this.current = field("password-current", "password.current", "current-password");
    this.fresh = field("password-new", "password.new", "new-password");
    this.repeat = field("password-repeat", "password.repeat", "new-password");
    const rules = document.createElement("p");
    rules.className = "hint";
    rules.id = "password-rules";
    rules.textContent = t("password.rules", { min: MIN_PASSWORD_CHARS });
    this.fresh.input.setAttribute("aria-describedby", `password-rules ${this.fresh.error.id}`);
    this.fresh.input.minLength = MIN_PASSWORD_CHARS;
    const actions = document.createElement("div");
    actions.className = "actions";
    this.submitButton = document.createElement("button");
    this.submitButton.type = "submit";
    this.submitButton.className = "primary";
    this.submitButton.id = "password-submit";
    this.submitButton.dataset.testid = "password-submit";
    this.submitButton.dataset.i18n = "password.submit";
    this.submitButton.textContent = t("password.submit");
    this.cancelButton = document.createElement("button");
    this.cancelButton.type = "button";
    this.cancelButton.id = "password-cancel";
    this.cancelButton.dataset.i18n = "password.cancel";
    this.cancelButton.textContent = t("password.cancel");
    actions.append(this.submitButton, this.cancelButton);
    this.formError = document.createElement("p");
    this.formError.className = "error";
    this.formError.setAttribute("role", "alert");
    this.formError.id = "password-error";
    this.formError.dataset.testid = "password-error";
    this.formError.hidden = true;
    form.append(this.current.wrap, this.fresh.wrap, rules, this.repeat.wrap, actions, this.formError);
    section.append(heading, this.note, form);
    this.heading = heading;
    this.section = section;
    this.rules = rules;
    const login = document.getElementById("login-section");
    login.after(section);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.cancelButton.addEventListener("click", () => this.close(false));
  }

  /** Shows the form; `forced`: an administrator set the password, no way around it. */
  open({ forced }) {
    this.forced = forced;
    this.clearErrors();
    for (const f of [this.current, this.fresh, this.repeat]) f.input.value = "";
    const key = forced ? "password.forced" : "password.voluntary";
    this.note.dataset.i18n = key;
    this.note.textContent = t(key);
    this.rules.textContent = t("password.rules", { min: MIN_PASSWORD_CHARS });
    this.cancelButton.hidden = forced;
    this.section.hidden = false;
    this.current.input.focus();
  }

  close(changed) {
    this.section.hidden = true;
    this.onDone(changed);
  }

  clearErrors() {
    this.formError.hidden = true;
    for (const f of [this.current, this.fresh, this.repeat]) {
      f.error.hidden = true;
      f.error.textContent = "";
      f.input.removeAttribute("aria-invalid");
    }
  }

  fieldError(f, text) {
    f.error.textContent = text;
    f.error.hidden = false;
    f.input.setAttribute("aria-invalid", "true");
    f.input.focus();
  }

  async submit() {
    this.clearErrors();
    const current = this.current.input.value;
    const fresh = this.fresh.input.value;
    if (!current) return this.fieldError(this.current, t("password.required"));
    if ([...fresh].length < MIN_PASSWORD_CHARS) {
      return this.fieldError(this.fresh, t("password.error.password_too_short", { min: MIN_PASSWORD_CHARS }));
    }
    if (fresh !== this.repeat.input.value) return this.fieldError(this.repeat, t("password.mismatch"));
    this.submitButton.disabled = true;
    try {
      const response = await fetch("/api/password", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ current_password: current, new_password: fresh }),
      });
      if (response.ok) {
        this.close(true);
        return;
      }
      const body = await response.json().catch(() => ({}));
      const known = [
        "wrong_password",
        "password_too_short",
        "password_too_long",
        "password_common",
        "password_unchanged",
      ];
      const text = known.includes(body.code)
        ? t(`password.error.${body.code}`, { min: MIN_PASSWORD_CHARS })
        : t("password.error.other", { code: body.code || response.status });
      const target = body.field === "current_password" ? this.current : body.field ? this.fresh : null;
      if (target) {
        this.fieldError(target, text);
      } else {
        this.formError.textContent = text;
        this.formError.hidden = false;
      }
    } catch {
      this.formError.textContent = t("login.unreachable");
      this.formError.hidden = false;
    } finally {
      this.submitButton.disabled = false;
    }
  }
}
