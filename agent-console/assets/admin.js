// The admin console (`/admin`, role admin): users and roles (create, edit, disable, enable, reset
// password, unlock), who is signed in (end a session), queues with business hours as a form and a
// service level target, the holiday calendar (one day, or a CSV file), services with a preview
// of the hall, announcements with a preview, the chat's canned replies per service, dispositions
// and away reasons, knowledge articles
// with "try a question", and the admin audit log.
// Every change goes through the admin API, which validates it with the same rules whatever the
// client; a refusal is shown next to the field it names (`field` in the error body).
import {
  StatusLine,
  currentLang,
  fillSelect,
  formatDate,
  formatDateTime,
  formatHours,
  loadCatalogue,
  setupLang,
  showError,
  t,
  tOr,
} from "./common.js";
import { Login } from "./console.js";

const $ = (id) => document.getElementById(id);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ROLES = ["agent", "staff", "admin"];

const status = new StatusLine($("status"));
const errorLine = $("error-message");

/** What the console has loaded; reset on logout. */
const state = {
  me: null,
  users: [],
  skills: [],
  /** The user being edited, or null while the form creates one. */
  editing: null,
  holidays: [],
  articles: [],
  /** The whole catalogue as stored (`/api/admin/catalogue`): disabled services included. */
  areas: [],
  services: [],
  away_reasons: [],
  dispositions: [],
  announcements: [],
  /** The announcement being edited, or null while the form creates one. */
  editingAnn: null,
  /** Every service's canned replies, and the one being edited (null: the form adds one). */
  canned: [],
  editingCanned: null,
};

/** `fetch` for the admin API: JSON in and out; resolves to `{ ok, status, body }`. */
async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    login.refuse("status.session_expired");
  }
  const text = await response.text();
  let parsed = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { message: text };
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

// ---------------------------------------------------------------------------------------------
// Field errors: the error under a field (`#<prefix>-<field>-error`), `aria-invalid` on its input.

function clearFieldErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Shows `text` under the field `field` of the form whose error ids start with `prefix`;
 * false when the form has no such field. */
function fieldError(prefix, field, text) {
  const p = $(`${prefix}-${field}-error`);
  if (!p) return false;
  p.textContent = text;
  p.hidden = false;
  const described = document.querySelector(`[aria-describedby~="${p.id}"]`);
  if (described) {
    described.setAttribute("aria-invalid", "true");
    described.focus?.();
  }
  return true;
}

/** A refused request: under its field when the server named one, else in `fallback`. */
function showRefusal(prefix, response, fallback) {
  const { body } = response;
  const text = tOr("admin.error.", body.code || "") === (body.code || "")
    ? t("admin.error.generic", { message: body.message || response.status })
    : t(`admin.error.${body.code}`, { message: body.message || "" });
  if (body.field && fieldError(prefix, body.field, text)) return;
  fallback.textContent = text;
  fallback.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Users

function roleName(role) {
  return t(`role.${ROLES.includes(role) ? role : "agent"}`);
}

function userState(user) {
  if (user.disabled_at_ms) return t("users.state.disabled");
  if (user.must_change_password) return t("users.state.new_password");
  return t("users.state.active");
}

function actionButton(labelKey, onClick, { danger = false, name = "" } = {}) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = t(labelKey);
  if (name) button.setAttribute("aria-label", `${t(labelKey)} ${name}`);
  if (danger) button.className = "danger";
  button.addEventListener("click", onClick);
  return button;
}

function renderUsers() {
  const body = $("users-table").tBodies[0];
  body.replaceChildren(
    ...state.users.map((user) => {
      const row = document.createElement("tr");
      row.dataset.username = user.username;
      const cells = [
        user.username,
        user.name_latin ? `${user.display_name} ${user.name_latin}` : user.display_name,
        roleName(user.role),
        `${userState(user)}${user.signed_in ? ` · ${t("users.signed_in")}` : ""}`,
      ].map((text) => {
        const td = document.createElement("td");
        td.textContent = text;
        return td;
      });
      const actions = document.createElement("td");
      const box = document.createElement("div");
      box.className = "actions compact";
      box.append(actionButton("users.edit", () => editUser(user), { name: user.username }));
      if (user.disabled_at_ms) {
        box.append(actionButton("users.enable", () => setDisabled(user, false), { name: user.username }));
      } else if (user.id !== state.me?.id) {
        box.append(
          actionButton("users.disable", () => setDisabled(user, true), { danger: true, name: user.username }),
        );
      }
      box.append(actionButton("users.reset", () => resetPassword(user), { name: user.username }));
      box.append(actionButton("users.unlock", () => unlock(user), { name: user.username }));
      actions.append(box);
      row.append(...cells, actions);
      return row;
    }),
  );
}

function renderSkillInputs(levels = new Map()) {
  const list = $("user-skills-list");
  list.replaceChildren(
    ...state.skills.map((skill) => {
      const wrap = document.createElement("div");
      wrap.className = "inline-field";
      const label = document.createElement("label");
      label.htmlFor = `skill-level-${skill.id}`;
      label.textContent = skill.name_zh && document.documentElement.lang.startsWith("zh") ? skill.name_zh : skill.name_en;
      const input = document.createElement("input");
      input.type = "number";
      input.min = "0";
      input.max = "10";
      input.inputMode = "numeric";
      input.id = `skill-level-${skill.id}`;
      input.dataset.skill = skill.id;
      input.dataset.testid = `skill-level-${skill.id}`;
      input.value = String(levels.get(skill.id) ?? 0);
      input.setAttribute("aria-describedby", "user-skills-error");
      wrap.append(label, input);
      return wrap;
    }),
  );
}

function resetUserForm() {
  state.editing = null;
  const form = $("user-form");
  form.reset();
  clearFieldErrors(form);
  $("user-form-error").hidden = true;
  $("user-username").disabled = false;
  $("user-password-field").hidden = false;
  $("user-cancel").hidden = true;
  $("user-form-heading").textContent = t("users.create");
  $("user-submit").textContent = t("users.create_button");
  renderSkillInputs();
}

function editUser(user) {
  resetUserForm();
  state.editing = user;
  $("user-username").value = user.username;
  $("user-username").disabled = true;
  $("user-display-name").value = user.display_name;
  $("user-name-latin").value = user.name_latin;
  $("user-role").value = user.role;
  $("user-password-field").hidden = true;
  $("user-cancel").hidden = false;
  $("user-form-heading").textContent = t("users.edit_title", { name: user.username });
  $("user-submit").textContent = t("button.save");
  renderSkillInputs(new Map(user.skills.map((s) => [s.skill_id, s.level])));
  $("user-display-name").focus();
}

function chosenSkills() {
  const skills = [];
  for (const input of $("user-skills-list").querySelectorAll("input[data-skill]")) {
    const level = Number(input.value);
    if (Number.isInteger(level) && level > 0) skills.push({ skill_id: input.dataset.skill, level });
    else if (input.value !== "" && level !== 0) skills.push({ skill_id: input.dataset.skill, level });
  }
  return skills;
}

async function submitUser() {
  const form = $("user-form");
  clearFieldErrors(form);
  const formError = $("user-form-error");
  formError.hidden = true;
  const display_name = $("user-display-name").value.trim();
  if (!display_name) return fieldError("user", "display_name", t("admin.error.required"));
  const skills = chosenSkills();
  const bad = skills.find((s) => !(s.level >= 1 && s.level <= 10 && Number.isInteger(s.level)));
  if (bad) return fieldError("user", "skills", t("users.skill_level_range"));
  const common = { display_name, name_latin: $("user-name-latin").value.trim(), role: $("user-role").value };
  const editing = state.editing;
  let outcome;
  if (editing) {
    const response = await api("PUT", `/api/admin/users/${encodeURIComponent(editing.id)}`, common);
    if (!response.ok) return showRefusal("user", response, formError);
    const skillsResponse = await api("PUT", `/api/admin/agents/${encodeURIComponent(editing.id)}/skills`, { skills });
    if (!skillsResponse.ok) return showRefusal("user", skillsResponse, formError);
    outcome = t("users.saved", { name: editing.username });
  } else {
    const username = $("user-username").value.trim();
    if (!username) return fieldError("user", "username", t("admin.error.required"));
    const body = { ...common, username, skills };
    const password = $("user-password").value;
    if (password) body.password = password;
    const response = await api("POST", "/api/admin/users", body);
    if (!response.ok) return showRefusal("user", response, formError);
    const generated = response.body.generated_password;
    outcome = generated
      ? t("users.created_generated", { name: username, password: generated })
      : t("users.created", { name: username });
  }
  resetUserForm();
  await loadUsers();
  // After the table has its new row, so the outcome stays in view.
  showResult(outcome);
}

/** The outcome of a user action, above the users table: brought into view, since the form's
 * button is far below it and a generated password is shown only there, only once. */
function showResult(text) {
  const p = $("users-result");
  p.textContent = text;
  p.hidden = false;
  p.scrollIntoView({ block: "nearest" });
}

async function setDisabled(user, disabled) {
  const path = `/api/admin/users/${encodeURIComponent(user.id)}/${disabled ? "disable" : "enable"}`;
  const response = await api("POST", path);
  if (!response.ok) {
    showResult(t(`admin.error.${response.body.code}`, { message: response.body.message || "" }));
    return;
  }
  showResult(t(disabled ? "users.disabled_done" : "users.enabled_done", { name: user.username }));
  await Promise.all([loadUsers(), loadSessions()]);
}

async function resetPassword(user) {
  const response = await api("POST", `/api/admin/users/${encodeURIComponent(user.id)}/reset-password`, {});
  if (!response.ok) {
    showResult(t("admin.error.generic", { message: response.body.message || response.status }));
    return;
  }
  showResult(t("users.reset_done", { name: user.username, password: response.body.generated_password }));
  await Promise.all([loadUsers(), loadSessions()]);
}

async function unlock(user) {
  const response = await api("POST", `/api/admin/users/${encodeURIComponent(user.id)}/unlock`);
  showResult(
    response.ok
      ? t("users.unlocked", { name: user.username })
      : t("admin.error.generic", { message: response.body.message || response.status }),
  );
}

async function loadUsers() {
  const response = await api("GET", "/api/admin/users");
  if (!response.ok) return;
  state.users = response.body.users;
  renderUsers();
}

// ---------------------------------------------------------------------------------------------
// Sessions

async function loadSessions() {
  const response = await api("GET", "/api/admin/sessions");
  if (!response.ok) return;
  const body = $("sessions-table").tBodies[0];
  body.replaceChildren(
    ...response.body.sessions.map((session) => {
      const row = document.createElement("tr");
      for (const text of [
        `${session.display_name} (${session.username})`,
        roleName(session.role),
        formatDateTime(session.created_at_ms),
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement("td");
      td.append(
        actionButton(
          "sessions.end",
          async () => {
            await api("DELETE", `/api/admin/sessions/${encodeURIComponent(session.id)}`);
            await Promise.all([loadSessions(), loadUsers()]);
          },
          { name: session.username },
        ),
      );
      row.append(td);
      return row;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Queues: business hours as a form (two spans per day), turned into the API's hours text.

function buildHoursGrid() {
  const grid = $("queue-hours");
  grid.replaceChildren(
    ...DAYS.map((day) => {
      const group = document.createElement("fieldset");
      group.className = "day-hours";
      const legend = document.createElement("legend");
      legend.textContent = t(`day.${day}`);
      group.append(legend);
      for (const span of [0, 1]) {
        for (const edge of ["from", "to"]) {
          const id = `hours-${day}-${span}-${edge}`;
          const label = document.createElement("label");
          label.htmlFor = id;
          label.className = "visually-hidden";
          label.textContent = t(`queues.span_${edge}`, { day: t(`day.${day}`), n: span + 1 });
          const input = document.createElement("input");
          input.type = "time";
          input.id = id;
          input.dataset.testid = id;
          input.setAttribute("aria-describedby", "queue-hours-error");
          group.append(label, input);
        }
      }
      return group;
    }),
  );
}

/** Spans per day from the hours text (`always`: open all day every day). */
function parseHours(text) {
  const week = Object.fromEntries(DAYS.map((d) => [d, []]));
  const trimmed = (text || "").trim();
  if (trimmed === "always") {
    for (const d of DAYS) week[d].push(["00:00", "23:59"]);
    return week;
  }
  if (!trimmed || trimmed === "never") return week;
  for (const part of trimmed.split(";")) {
    const [days, spans = ""] = part.trim().split(/\s+/, 2);
    const [first, last = first] = days.split("-");
    const from = DAYS.indexOf(first);
    const to = DAYS.indexOf(last);
    if (from < 0 || to < 0) continue;
    for (let i = from; i <= to; i++) {
      for (const span of spans.split(",")) {
        const [a, b] = span.split("-");
        if (a && b) week[DAYS[i]].push([a, b]);
      }
    }
  }
  return week;
}

function fillHours(text) {
  const week = parseHours(text);
  for (const day of DAYS) {
    for (const span of [0, 1]) {
      const [a, b] = week[day][span] ?? ["", ""];
      $(`hours-${day}-${span}-from`).value = a;
      $(`hours-${day}-${span}-to`).value = b;
    }
  }
}

/** The form's hours as the API's text, or `{ error }` for the first bad span. */
function hoursFromForm() {
  const parts = [];
  for (const day of DAYS) {
    const spans = [];
    for (const span of [0, 1]) {
      const a = $(`hours-${day}-${span}-from`).value;
      const b = $(`hours-${day}-${span}-to`).value;
      if (!a && !b) continue;
      if (!a || !b || a >= b) return { error: t("queues.error.span", { day: t(`day.${day}`) }) };
      spans.push([a, b]);
    }
    if (spans.length === 2) {
      spans.sort();
      if (spans[1][0] < spans[0][1]) return { error: t("queues.error.overlap", { day: t(`day.${day}`) }) };
    }
    if (spans.length) parts.push(`${day} ${spans.map(([a, b]) => `${a}-${b}`).join(",")}`);
  }
  return { hours: parts.length ? parts.join("; ") : "never" };
}

function selectedQueue() {
  return state.skills.find((s) => s.id === $("queue-pick").value);
}

function showQueue() {
  const skill = selectedQueue();
  if (!skill) return;
  clearFieldErrors($("queue-form"));
  $("queue-error").hidden = true;
  $("queue-name-zh").value = skill.name_zh;
  $("queue-name-en").value = skill.name_en;
  $("queue-max-waiting").value = skill.max_waiting ?? "";
  $("queue-max-wait").value = skill.max_wait_secs ?? "";
  $("queue-sl-pct").value = skill.service_level_pct ?? "";
  $("queue-sl-secs").value = skill.service_level_secs ?? "";
  $("queue-recording").value = skill.recording ?? "none";
  fillHours(skill.hours);
}

async function submitQueue() {
  const skill = selectedQueue();
  if (!skill) return;
  const form = $("queue-form");
  clearFieldErrors(form);
  $("queue-error").hidden = true;
  $("queue-result").textContent = "";
  const hours = hoursFromForm();
  if (hours.error) return fieldError("queue", "hours", hours.error);
  const number = (id) => ($(id).value === "" ? null : Number($(id).value));
  const body = {
    name_zh: $("queue-name-zh").value.trim(),
    name_en: $("queue-name-en").value.trim(),
    hours: hours.hours,
    max_waiting: number("queue-max-waiting"),
    max_wait_secs: number("queue-max-wait"),
    service_level_pct: number("queue-sl-pct"),
    service_level_secs: number("queue-sl-secs"),
    recording: $("queue-recording").value,
    sort: skill.sort ?? 0,
  };
  if (!body.name_zh) return fieldError("queue", "name_zh", t("admin.error.required"));
  if (!body.name_en) return fieldError("queue", "name_en", t("admin.error.required"));
  const response = await api("PUT", `/api/admin/skills/${encodeURIComponent(skill.id)}`, body);
  if (!response.ok) return showRefusal("queue", response, $("queue-error"));
  $("queue-result").textContent = t("queues.saved", { name: body.name_zh });
  await loadCatalogueData();
  $("queue-pick").value = skill.id;
  showQueue();
}

// ---------------------------------------------------------------------------------------------
// Holidays

function renderHolidays() {
  const body = $("holidays-table").tBodies[0];
  body.replaceChildren(
    ...state.holidays.map((h) => {
      const row = document.createElement("tr");
      for (const text of [h.day, t(`holidays.kind.${h.kind === "workday" ? "workday" : "holiday"}`), `${h.name_zh} / ${h.name_en}`]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement("td");
      td.append(
        actionButton(
          "holidays.remove",
          async () => {
            await api("DELETE", `/api/admin/holidays/${encodeURIComponent(h.day)}`);
            await loadCatalogueData();
          },
          { name: h.day },
        ),
      );
      row.append(td);
      return row;
    }),
  );
}

async function submitHoliday() {
  const form = $("holiday-form");
  clearFieldErrors(form);
  $("holiday-error").hidden = true;
  const day = $("holiday-day").value;
  if (!day) return fieldError("holiday", "day", t("admin.error.required"));
  const body = {
    kind: $("holiday-kind").value,
    name_zh: $("holiday-name-zh").value.trim(),
    name_en: $("holiday-name-en").value.trim(),
  };
  if (!body.name_zh) return fieldError("holiday", "name_zh", t("admin.error.required"));
  if (!body.name_en) return fieldError("holiday", "name_en", t("admin.error.required"));
  const response = await api("PUT", `/api/admin/holidays/${encodeURIComponent(day)}`, body);
  if (!response.ok) return showRefusal("holiday", response, $("holiday-error"));
  form.reset();
  await loadCatalogueData();
}

async function importHolidays() {
  const form = $("holiday-import-form");
  clearFieldErrors(form);
  $("holiday-import-result").textContent = "";
  const file = $("holiday-file").files[0];
  if (!file) return fieldError("holiday-import", "file", t("admin.error.required"));
  const csv = await file.text();
  const response = await api("POST", "/api/admin/holidays/import", { csv });
  if (!response.ok) return showRefusal("holiday-import", response, $("holiday-import-file-error"));
  form.reset();
  $("holiday-import-result").textContent = t("holidays.imported", { count: response.body.imported });
  await loadCatalogueData();
}

// ---------------------------------------------------------------------------------------------
// Services: every field of the API, and the service as the hall lists it in each language.

const SERVICE_LANGS = [
  ["zh-CN", "zh"],
  ["en", "en"],
  ["es", "es"],
];

function areaLabel(area) {
  return currentLang().startsWith("zh") ? area.name_zh : area.name_en;
}

function renderServiceChoices() {
  const service = (s) => `${s.name_zh} / ${s.name_en}${s.enabled ? "" : ` (${t("services.disabled")})`}`;
  fillSelect($("service-pick"), [
    { value: "", label: t("services.new") },
    ...state.services.map((s) => ({ value: s.id, label: service(s) })),
  ]);
  fillSelect($("service-area"), state.areas.map((a) => ({ value: a.id, label: areaLabel(a) })));
  fillSelect(
    $("service-skill"),
    state.skills.map((k) => ({ value: k.id, label: `${k.name_zh} / ${k.name_en}` })),
  );
}

function selectedService() {
  return state.services.find((s) => s.id === $("service-pick").value) ?? null;
}

function showService() {
  const service = selectedService();
  const form = $("service-form");
  clearFieldErrors(form);
  $("service-error").hidden = true;
  $("service-id").value = service?.id ?? "";
  $("service-id").disabled = Boolean(service);
  $("service-delete").hidden = !service;
  if (service) {
    $("service-area").value = service.area;
    $("service-skill").value = service.skill_id;
  }
  $("service-kind").value = service?.kind ?? "inquiry";
  for (const [, key] of SERVICE_LANGS) {
    $(`service-name-${key}`).value = service?.[`name_${key}`] ?? "";
    $(`service-description-${key}`).value = service?.[`description_${key}`] ?? "";
  }
  $("service-priority").value = String(service?.priority ?? 0);
  $("service-sort").value = String(service?.sort ?? 0);
  $("service-enabled").checked = service?.enabled ?? true;
  renderServicePreview();
}

function serviceFromForm() {
  const number = (id) => ($(id).value === "" ? 0 : Number($(id).value));
  const body = {
    area: $("service-area").value,
    skill_id: $("service-skill").value,
    kind: $("service-kind").value,
    priority: number("service-priority"),
    sort: number("service-sort"),
    enabled: $("service-enabled").checked,
  };
  for (const [, key] of SERVICE_LANGS) {
    body[`name_${key}`] = $(`service-name-${key}`).value.trim();
    body[`description_${key}`] = $(`service-description-${key}`).value.trim();
  }
  return body;
}

/** The service as the hall's area lists it (name, the queue's hours and whether it is open now,
 * the description), once per language; a language without its own name shows the English one,
 * as the hall does. */
function renderServicePreview() {
  const body = serviceFromForm();
  const skill = state.skills.find((k) => k.id === body.skill_id);
  const area = state.areas.find((a) => a.id === body.area);
  const items = SERVICE_LANGS.map(([lang, key]) => {
    const item = document.createElement("article");
    item.className = "service-preview";
    item.lang = lang;
    item.dataset.lang = lang;
    const where = document.createElement("p");
    where.className = "hint";
    where.textContent = `${t(`lang.name.${lang}`)} · ${area ? areaLabel(area) : "—"}`;
    const name = document.createElement("h4");
    name.textContent = body[`name_${key}`] || body.name_en || t("services.unnamed");
    item.append(where, name);
    if (skill) {
      const hours = document.createElement("p");
      hours.className = "service-hours";
      hours.textContent = t(skill.open_now ? "area.hours_open" : "area.hours_closed", {
        hours: formatHours(skill.hours),
      });
      item.append(hours);
    }
    const text = body[`description_${key}`] || body.description_en;
    if (text) {
      const p = document.createElement("p");
      p.textContent = text;
      item.append(p);
    }
    return item;
  });
  const nodes = [...items];
  if (!body.enabled) {
    const off = document.createElement("p");
    off.className = "notice";
    off.textContent = t("services.not_offered");
    nodes.unshift(off);
  }
  $("service-preview").replaceChildren(...nodes);
}

async function submitService() {
  const form = $("service-form");
  clearFieldErrors(form);
  $("service-error").hidden = true;
  $("service-result").textContent = "";
  const existing = selectedService();
  const id = existing?.id ?? $("service-id").value.trim();
  if (!id) return fieldError("service", "id", t("admin.error.required"));
  const body = serviceFromForm();
  if (!body.name_zh) return fieldError("service", "name_zh", t("admin.error.required"));
  if (!body.name_en) return fieldError("service", "name_en", t("admin.error.required"));
  if (!existing && state.services.some((s) => s.id === id)) {
    return fieldError("service", "id", t("services.id_taken", { id }));
  }
  const response = await api("PUT", `/api/admin/services/${encodeURIComponent(id)}`, body);
  if (!response.ok) return showRefusal("service", response, $("service-error"));
  await loadCatalogueData();
  $("service-pick").value = id;
  showService();
  $("service-result").textContent = t("services.saved", { name: body.name_zh });
}

async function deleteService() {
  const service = selectedService();
  if (!service) return;
  $("service-error").hidden = true;
  const response = await api("DELETE", `/api/admin/services/${encodeURIComponent(service.id)}`);
  if (!response.ok) return showRefusal("service", response, $("service-error"));
  await loadCatalogueData();
  $("service-pick").value = "";
  showService();
  $("service-result").textContent = t("services.deleted", { name: service.name_zh });
}

// ---------------------------------------------------------------------------------------------
// Announcements: the list (shown now, scheduled, expired), the form, and the hall's rendering.

const ANN_LANGS = ["zh", "en", "es"];

/** `datetime-local` value ↔ epoch ms, in the browser's time zone. */
function localInput(ms) {
  if (ms == null) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function inputMs(id) {
  const value = $(id).value;
  return value ? new Date(value).getTime() : null;
}

function annState(a, now) {
  if (a.expires_at_ms && a.expires_at_ms <= now) return "expired";
  if (a.published_at_ms > now) return "scheduled";
  return "current";
}

function renderAnnouncements() {
  const now = Date.now();
  const body = $("announcements-table").tBodies[0];
  const local = (a, field) => {
    const key = currentLang() === "zh-CN" ? "zh" : currentLang();
    return a[`${field}_${key}`] || a[`${field}_en`];
  };
  body.replaceChildren(
    ...state.announcements.map((a) => {
      const row = document.createElement("tr");
      row.dataset.id = a.id;
      const shown = a.expires_at_ms
        ? t("ann.shown_until", { from: formatDate(a.published_at_ms), to: formatDate(a.expires_at_ms) })
        : t("ann.shown_from", { from: formatDate(a.published_at_ms) });
      const stateText = t(`ann.state.${annState(a, now)}`) + (a.pinned ? ` · ${t("ann.pinned")}` : "");
      for (const text of [local(a, "title"), shown, stateText]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement("td");
      const box = document.createElement("div");
      box.className = "actions compact";
      const name = local(a, "title");
      box.append(
        actionButton("users.edit", () => editAnnouncement(a), { name }),
        actionButton("ann.delete", () => deleteAnnouncement(a), { danger: true, name }),
      );
      td.append(box);
      row.append(td);
      return row;
    }),
  );
}

function resetAnnForm() {
  state.editingAnn = null;
  const form = $("ann-form");
  form.reset();
  clearFieldErrors(form);
  $("ann-error").hidden = true;
  $("ann-cancel").hidden = true;
  $("ann-form-heading").textContent = t("ann.create");
  $("ann-submit").textContent = t("ann.publish");
  renderAnnPreview();
}

function editAnnouncement(a) {
  resetAnnForm();
  state.editingAnn = a;
  for (const key of ANN_LANGS) {
    $(`ann-title-${key}`).value = a[`title_${key}`] ?? "";
    $(`ann-body-${key}`).value = a[`body_${key}`] ?? "";
  }
  $("ann-published").value = localInput(a.published_at_ms);
  $("ann-expires").value = localInput(a.expires_at_ms);
  $("ann-pinned").checked = Boolean(a.pinned);
  $("ann-cancel").hidden = false;
  $("ann-form-heading").textContent = t("ann.edit_title");
  $("ann-submit").textContent = t("button.save");
  renderAnnPreview();
  $("ann-title-zh").focus();
}

function annFromForm() {
  const body = { pinned: $("ann-pinned").checked, expires_at_ms: inputMs("ann-expires") };
  for (const key of ["zh", "en"]) {
    body[`title_${key}`] = $(`ann-title-${key}`).value.trim();
    body[`body_${key}`] = $(`ann-body-${key}`).value.trim();
  }
  const titleEs = $("ann-title-es").value.trim();
  const bodyEs = $("ann-body-es").value.trim();
  // Spanish is both or neither; one alone is sent so that the server names the missing one.
  if (titleEs || bodyEs) {
    body.title_es = titleEs || null;
    body.body_es = bodyEs || null;
  }
  const published = inputMs("ann-published");
  if (published != null) body.published_at_ms = published;
  return body;
}

/** The announcement as the hall's announcements area shows it, in the console's language. */
function renderAnnPreview() {
  const a = annFromForm();
  const key = currentLang() === "zh-CN" ? "zh" : currentLang();
  const field = (name) => a[`${name}_${key}`] || a[`${name}_en`] || a[`${name}_zh`] || "";
  const item = document.createElement("li");
  item.className = "announcement";
  if (a.pinned) item.dataset.pinned = "true";
  const article = document.createElement("article");
  const h = document.createElement("h4");
  h.textContent = field("title") || t("ann.untitled");
  if (a.pinned) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = t("ann.pinned");
    h.append(" ", badge);
  }
  const meta = document.createElement("p");
  meta.className = "hint";
  const parts = [t("ann.published", { date: formatDate(a.published_at_ms ?? Date.now()) })];
  if (a.expires_at_ms) parts.push(t("ann.expires", { date: formatDate(a.expires_at_ms) }));
  meta.textContent = parts.join(" · ");
  const body = document.createElement("div");
  body.className = "announcement-body";
  for (const paragraph of field("body").split(/\n+/).filter(Boolean)) {
    const p = document.createElement("p");
    p.textContent = paragraph;
    body.append(p);
  }
  article.append(h, meta, body);
  item.append(article);
  $("ann-preview").replaceChildren(item);
}

async function submitAnnouncement() {
  const form = $("ann-form");
  clearFieldErrors(form);
  $("ann-error").hidden = true;
  $("ann-result").textContent = "";
  const body = annFromForm();
  for (const field of ["title_zh", "title_en", "body_zh", "body_en"]) {
    if (!body[field]) return fieldError("ann", field, t("admin.error.required"));
  }
  const editing = state.editingAnn;
  const response = editing
    ? await api("PUT", `/api/admin/announcements/${encodeURIComponent(editing.id)}`, body)
    : await api("POST", "/api/admin/announcements", body);
  if (!response.ok) return showRefusal("ann", response, $("ann-error"));
  resetAnnForm();
  $("ann-result").textContent = t(editing ? "ann.saved" : "ann.created", { title: body.title_zh });
  await loadAnnouncements();
}

async function deleteAnnouncement(a) {
  const response = await api("DELETE", `/api/admin/announcements/${encodeURIComponent(a.id)}`);
  $("ann-result").textContent = response.ok
    ? t("ann.deleted", { title: a.title_zh })
    : t("admin.error.generic", { message: response.body.message || response.status });
  if (state.editingAnn?.id === a.id) resetAnnForm();
  await Promise.all([loadAnnouncements(), loadAudit()]);
}

async function loadAnnouncements() {
  const response = await api("GET", "/api/admin/announcements");
  if (!response.ok) return;
  state.announcements = response.body.announcements;
  renderAnnouncements();
}

// ---------------------------------------------------------------------------------------------
// Canned replies (常用语) of the live chat, per service: the chosen service's list and the form.

function renderCanned() {
  const pick = $("canned-service");
  const keep = pick.value;
  fillSelect(pick, state.services.map((s) => ({ value: s.id, label: `${s.name_zh} / ${s.name_en}` })));
  if (keep && state.services.some((s) => s.id === keep)) pick.value = keep;
  const replies = state.canned.filter((r) => r.service === pick.value);
  $("canned-table").tBodies[0].replaceChildren(
    ...replies.map((reply) => {
      const row = document.createElement("tr");
      row.dataset.id = reply.id;
      for (const text of [reply.title, reply.body, String(reply.sort)]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement("td");
      const box = document.createElement("div");
      box.className = "actions compact";
      box.append(
        actionButton("users.edit", () => editCanned(reply), { name: reply.title }),
        actionButton("canned.delete", () => deleteCanned(reply), { danger: true, name: reply.title }),
      );
      td.append(box);
      row.append(td);
      return row;
    }),
  );
  $("canned-empty").hidden = replies.length > 0;
}

function resetCannedForm() {
  state.editingCanned = null;
  const form = $("canned-form");
  form.reset();
  clearFieldErrors(form);
  $("canned-error").hidden = true;
  $("canned-cancel").hidden = true;
  $("canned-form-heading").textContent = t("canned.create");
  $("canned-submit").textContent = t("canned.add");
}

function editCanned(reply) {
  resetCannedForm();
  state.editingCanned = reply;
  $("canned-title").value = reply.title;
  $("canned-body").value = reply.body;
  $("canned-sort").value = String(reply.sort);
  $("canned-cancel").hidden = false;
  $("canned-form-heading").textContent = t("canned.edit_title");
  $("canned-submit").textContent = t("button.save");
  $("canned-title").focus();
}

async function submitCanned() {
  const form = $("canned-form");
  clearFieldErrors(form);
  $("canned-error").hidden = true;
  $("canned-result").textContent = "";
  const sort = Number($("canned-sort").value || 0);
  const body = {
    service: state.editingCanned?.service ?? $("canned-service").value,
    title: $("canned-title").value.trim(),
    body: $("canned-body").value.trim(),
    sort,
  };
  if (!body.title) return fieldError("canned", "title", t("admin.error.required"));
  if (!body.body) return fieldError("canned", "body", t("admin.error.required"));
  if (!Number.isInteger(sort)) return fieldError("canned", "sort", t("canned.sort_whole"));
  const editing = state.editingCanned;
  const response = editing
    ? await api("PUT", `/api/admin/canned-replies/${encodeURIComponent(editing.id)}`, body)
    : await api("POST", "/api/admin/canned-replies", body);
  if (!response.ok) return showRefusal("canned", response, $("canned-error"));
  resetCannedForm();
  $("canned-result").textContent = t(editing ? "canned.saved" : "canned.created", { title: body.title });
  await loadCanned();
}

async function deleteCanned(reply) {
  const response = await api("DELETE", `/api/admin/canned-replies/${encodeURIComponent(reply.id)}`);
  $("canned-result").textContent = response.ok
    ? t("canned.deleted", { title: reply.title })
    : t("admin.error.generic", { message: response.body.message || response.status });
  if (state.editingCanned?.id === reply.id) resetCannedForm();
  await Promise.all([loadCanned(), loadAudit()]);
}

async function loadCanned() {
  const response = await api("GET", "/api/admin/canned-replies");
  if (!response.ok) return;
  state.canned = response.body.canned_replies;
  renderCanned();
}

// ---------------------------------------------------------------------------------------------
// Dispositions and away reasons: editable lists (code, names, order); system codes are not shown.

const CODE_LISTS = {
  dispositions: { path: "/api/admin/dispositions", key: "dispositions" },
  away: { path: "/api/admin/away-reasons", key: "away_reasons" },
};

/** Makes the ids of a list's rows unique, whatever rows were removed before one is added. */
let codeRowSerial = 0;

function codeRow(prefix, code, index) {
  const serial = codeRowSerial++;
  const row = document.createElement("fieldset");
  row.className = "code-row";
  row.dataset.code = code.code ?? "";
  const legend = document.createElement("legend");
  legend.textContent = t("codes.row", { n: index + 1 });
  row.append(legend);
  const fields = document.createElement("div");
  fields.className = "field-row";
  for (const [field, value] of [
    ["code", code.code ?? ""],
    ["name_zh", code.name_zh ?? ""],
    ["name_en", code.name_en ?? ""],
    ["sort", String(code.sort ?? (index + 1) * 10)],
  ]) {
    const labelKey = CODE_LABELS[field];
    const wrap = document.createElement("div");
    wrap.className = "inline-field";
    const id = `${prefix}-${serial}-${field}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = t(labelKey);
    const input = document.createElement("input");
    input.id = id;
    input.dataset.field = field;
    input.dataset.testid = id;
    input.autocomplete = "off";
    if (field === "sort") {
      input.type = "number";
      input.inputMode = "numeric";
    }
    input.value = value;
    input.setAttribute("aria-describedby", `${prefix}-code-error`);
    wrap.append(label, input);
    fields.append(wrap);
  }
  const remove = actionButton(
    "codes.remove",
    () => {
      row.remove();
      renumberCodeRows(prefix);
    },
    { name: code.code || String(index + 1) },
  );
  remove.className = "danger";
  row.append(fields, remove);
  return row;
}

/** The label of each field of a code row. */
const CODE_LABELS = { code: "codes.code", name_zh: "queues.name_zh", name_en: "queues.name_en", sort: "services.sort" };

/** Numbers the rows again and writes their labels in the current language (edits are kept). */
function renumberCodeRows(prefix) {
  [...$(`${prefix}-list`).children].forEach((row, i) => {
    row.querySelector("legend").textContent = t("codes.row", { n: i + 1 });
    for (const input of row.querySelectorAll("input[data-field]")) {
      const label = row.querySelector(`label[for="${input.id}"]`);
      if (label) label.textContent = t(CODE_LABELS[input.dataset.field]);
    }
    const remove = row.querySelector("button");
    remove.textContent = t("codes.remove");
  });
}

function renderCodes(prefix) {
  const codes = state[CODE_LISTS[prefix].key].filter((c) => !c.system);
  $(`${prefix}-list`).replaceChildren(...codes.map((c, i) => codeRow(prefix, c, i)));
}

function codesFromForm(prefix) {
  return [...$(`${prefix}-list`).children].map((row) => {
    const value = (field) => row.querySelector(`[data-field="${field}"]`).value.trim();
    return { code: value("code"), name_zh: value("name_zh"), name_en: value("name_en"), sort: Number(value("sort")) || 0 };
  });
}

async function submitCodes(prefix) {
  const form = $(`${prefix}-form`);
  clearFieldErrors(form);
  $(`${prefix}-result`).textContent = "";
  const codes = codesFromForm(prefix);
  const blank = codes.findIndex((c) => !c.code || !c.name_zh || !c.name_en);
  if (blank >= 0) return fieldError(prefix, "code", t("codes.blank", { n: blank + 1 }));
  const response = await api("PUT", CODE_LISTS[prefix].path, { codes });
  if (!response.ok) return showCodeRefusal(prefix, response);
  $(`${prefix}-result`).textContent = t("codes.saved");
  await loadCatalogueData();
}

/** Every refusal of a list goes under the list (the message names the code). */
function showCodeRefusal(prefix, response) {
  const { body } = response;
  const text = t(`admin.error.${["conflict", "bad_request"].includes(body.code) ? body.code : "generic"}`, {
    message: body.message || response.status,
  });
  fieldError(prefix, "code", text);
}

// ---------------------------------------------------------------------------------------------
// Knowledge base: edit an article (its JSON, checked by the server) and try a question.

async function loadArticles() {
  const response = await api("GET", "/api/knowledge/articles");
  if (!response.ok) return;
  state.articles = response.body.articles;
  const pick = $("kb-pick");
  const keep = pick.value;
  pick.replaceChildren(
    ...state.articles.map((a) => {
      const option = document.createElement("option");
      option.value = a.id;
      option.textContent = a.zh?.title ? `${a.zh.title} (${a.id})` : a.id;
      return option;
    }),
  );
  if (keep) pick.value = keep;
  showArticle();
}

function showArticle() {
  const article = state.articles.find((a) => a.id === $("kb-pick").value);
  $("kb-json").value = article ? JSON.stringify(article, null, 2) : "";
  clearFieldErrors($("kb-form"));
}

async function submitArticle() {
  clearFieldErrors($("kb-form"));
  $("kb-result").textContent = "";
  let article;
  try {
    article = JSON.parse($("kb-json").value);
  } catch (error) {
    return fieldError("kb", "json", t("kb.bad_json", { message: String(error.message || error) }));
  }
  const id = article?.id || "";
  if (!id) return fieldError("kb", "json", t("admin.error.required"));
  const response = await api("PUT", `/api/admin/articles/${encodeURIComponent(id)}`, article);
  if (!response.ok) {
    return fieldError("kb", "json", t("admin.error.generic", { message: response.body.message || response.status }));
  }
  $("kb-result").textContent = t("kb.saved", { id });
  await loadArticles();
  $("kb-pick").value = id;
  showArticle();
}

async function tryQuestion() {
  const question = $("kb-question").value.trim();
  const list = $("kb-answers");
  if (!question) return;
  const response = await api("POST", "/api/admin/knowledge/try", { question });
  if (!response.ok) {
    list.replaceChildren();
    return;
  }
  const { answer, ranked } = response.body;
  const bestId = answer.best?.article_id;
  const items = ranked.map((hit) => {
    const li = document.createElement("li");
    li.dataset.article = hit.article_id;
    const given = hit.article_id === bestId;
    li.textContent = t("kb.hit", {
      title: hit.title,
      score: hit.score.toFixed(2),
      coverage: Math.round(hit.coverage * 100),
    });
    if (given) {
      const strong = document.createElement("strong");
      strong.textContent = ` — ${t("kb.given")}`;
      li.append(strong);
    }
    return li;
  });
  const head = document.createElement("li");
  head.className = "answers-head";
  head.dataset.confidence = answer.confidence;
  head.textContent = t(`kb.confidence.${answer.confidence === "high" ? "high" : "low"}`);
  list.replaceChildren(head, ...items);
}

// Synonyms: the admins' groups, added to the built-in table.

async function loadSynonyms() {
  const response = await api("GET", "/api/admin/knowledge/synonyms");
  if (!response.ok) return;
  const body = $("syn-table").tBodies[0];
  body.replaceChildren(
    ...response.body.groups.map((group) => {
      const row = document.createElement("tr");
      row.dataset.id = group.id;
      for (const text of [group.id, group.lang === "zh" ? "中文" : "English", group.phrases.join(" · ")]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement("td");
      const box = document.createElement("div");
      box.className = "actions compact";
      box.append(
        actionButton(
          "users.edit",
          () => {
            $("syn-id").value = group.id;
            $("syn-lang").value = group.lang;
            $("syn-phrases").value = group.phrases.join("\n");
            $("syn-phrases").focus();
          },
          { name: group.id },
        ),
        actionButton(
          "ann.delete",
          async () => {
            await api("DELETE", `/api/admin/knowledge/synonyms/${encodeURIComponent(group.id)}`);
            await Promise.all([loadSynonyms(), loadAudit()]);
          },
          { danger: true, name: group.id },
        ),
      );
      td.append(box);
      row.append(td);
      return row;
    }),
  );
}

async function submitSynonyms() {
  const form = $("syn-form");
  clearFieldErrors(form);
  $("syn-error").hidden = true;
  $("syn-result").textContent = "";
  const id = $("syn-id").value.trim();
  if (!id) return fieldError("syn", "id", t("admin.error.required"));
  const phrases = $("syn-phrases").value.split(/\n|[,，、]/).map((p) => p.trim()).filter(Boolean);
  const body = { lang: $("syn-lang").value, phrases };
  const response = await api("PUT", `/api/admin/knowledge/synonyms/${encodeURIComponent(id)}`, body);
  if (!response.ok) return showRefusal("syn", response, $("syn-error"));
  form.reset();
  $("syn-result").textContent = t("kb.synonyms_saved", { id });
  await loadSynonyms();
}

// Questions without a confident answer: newest first, "write an article" from one.

async function loadUnanswered() {
  const response = await api("GET", "/api/admin/knowledge/unanswered");
  if (!response.ok) return;
  const body = $("unanswered-table").tBodies[0];
  body.replaceChildren(
    ...response.body.questions.map((q) => {
      const row = document.createElement("tr");
      row.dataset.question = q.question;
      for (const text of [q.question, String(q.asked), formatDateTime(q.last_asked_at_ms)]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      row.cells[0].lang = q.lang === "zh" ? "zh-CN" : "en";
      const td = document.createElement("td");
      const box = document.createElement("div");
      box.className = "actions compact";
      box.append(
        actionButton("kb.write_article", () => writeArticleFor(q), { name: q.question }),
        actionButton(
          "kb.dismiss",
          async () => {
            await api("POST", "/api/admin/knowledge/unanswered/dismiss", { lang: q.lang, question: q.question });
            await Promise.all([loadUnanswered(), loadAudit()]);
          },
          { name: q.question },
        ),
      );
      td.append(box);
      row.append(td);
      return row;
    }),
  );
}

/** A new article in the editor, with the question as its title and keyword in its language. */
function writeArticleFor(q) {
  const side = (lang) => ({
    title: q.lang === lang ? q.question : "",
    body: "",
    keywords: q.lang === lang ? [q.question] : [],
  });
  const article = { id: "", service_id: null, zh: side("zh"), en: side("en") };
  $("kb-json").value = JSON.stringify(article, null, 2);
  clearFieldErrors($("kb-form"));
  $("kb-result").textContent = t("kb.write_hint");
  $("kb-json").focus();
}

// ---------------------------------------------------------------------------------------------
// The admin audit log

function changeText(entry) {
  const before = entry.before_json ? JSON.parse(entry.before_json) : null;
  const after = entry.after_json ? JSON.parse(entry.after_json) : null;
  if (before && after && typeof before === "object" && typeof after === "object") {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    );
    return keys.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(after[k])}`).join("; ");
  }
  if (after) return `→ ${JSON.stringify(after)}`.slice(0, 300);
  if (before) return `${JSON.stringify(before)} →`.slice(0, 300);
  return "";
}

async function loadAudit() {
  const response = await api("GET", "/api/admin/audit-log?limit=100");
  if (!response.ok) return;
  const body = $("admin-audit-table").tBodies[0];
  body.replaceChildren(
    ...response.body.entries.map((entry) => {
      const row = document.createElement("tr");
      row.dataset.action = entry.action;
      for (const text of [
        formatDateTime(entry.at_ms),
        entry.actor_name,
        tOr("admin_action.", entry.action),
        entry.target,
        changeText(entry),
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      return row;
    }),
  );
}

// ---------------------------------------------------------------------------------------------

async function loadCatalogueData() {
  // The public catalogue has each queue's open-now state (for the previews); the admin one has
  // every service, disabled ones included.
  const [response, full] = await Promise.all([api("GET", "/api/catalogue"), api("GET", "/api/admin/catalogue")]);
  if (!response.ok || !full.ok) return;
  state.skills = response.body.skills;
  state.holidays = response.body.holidays;
  state.areas = full.body.areas;
  state.services = full.body.services;
  state.away_reasons = full.body.away_reasons;
  state.dispositions = full.body.dispositions;
  renderServiceChoices();
  showService();
  renderCodes("dispositions");
  renderCodes("away");
  const pick = $("queue-pick");
  const keep = pick.value;
  pick.replaceChildren(
    ...state.skills.map((s) => {
      const option = document.createElement("option");
      option.value = s.id;
      option.textContent = `${s.name_zh} / ${s.name_en}`;
      return option;
    }),
  );
  if (keep) pick.value = keep;
  showQueue();
  renderHolidays();
  if (!state.editing) renderSkillInputs();
}

async function refreshAll() {
  await loadCatalogueData();
  await Promise.all([
    loadUsers(),
    loadSessions(),
    loadArticles(),
    loadAnnouncements(),
    loadCanned(),
    loadSynonyms(),
    loadUnanswered(),
    loadAudit(),
  ]);
}

const login = new Login({
  status,
  allowed: (role) => role === "admin",
  notAllowedKey: "admin.not_admin",
  onEnter: (user) => {
    state.me = user;
    showError(errorLine, null);
    refreshAll();
  },
  onLeave: () => {
    state.me = null;
  },
});

$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitUser().then(loadAudit);
});
$("user-cancel").addEventListener("click", resetUserForm);
$("queue-pick").addEventListener("change", showQueue);
$("queue-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitQueue().then(loadAudit);
});
$("holiday-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitHoliday().then(loadAudit);
});
$("holiday-import-form").addEventListener("submit", (event) => {
  event.preventDefault();
  importHolidays().then(loadAudit);
});
$("service-pick").addEventListener("change", showService);
$("service-form").addEventListener("input", renderServicePreview);
$("service-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitService().then(loadAudit);
});
$("service-delete").addEventListener("click", () => deleteService().then(loadAudit));
$("ann-form").addEventListener("input", renderAnnPreview);
$("ann-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitAnnouncement().then(loadAudit);
});
$("ann-cancel").addEventListener("click", resetAnnForm);
$("canned-service").addEventListener("change", () => {
  resetCannedForm();
  renderCanned();
});
$("canned-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitCanned().then(loadAudit);
});
$("canned-cancel").addEventListener("click", resetCannedForm);
for (const prefix of Object.keys(CODE_LISTS)) {
  $(`${prefix}-add`).addEventListener("click", () => {
    const list = $(`${prefix}-list`);
    const row = codeRow(prefix, {}, list.children.length);
    list.append(row);
    row.querySelector("input").focus();
  });
  $(`${prefix}-form`).addEventListener("submit", (event) => {
    event.preventDefault();
    submitCodes(prefix).then(loadAudit);
  });
}
$("kb-pick").addEventListener("change", showArticle);
$("kb-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitArticle().then(loadAudit);
});
$("kb-try-form").addEventListener("submit", (event) => {
  event.preventDefault();
  tryQuestion();
});
$("syn-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitSynonyms().then(loadAudit);
});
$("unanswered-refresh").addEventListener("click", loadUnanswered);
$("admin-audit-refresh").addEventListener("click", loadAudit);

buildHoursGrid();
setupLang(() => {
  buildHoursGrid();
  if (state.me) {
    showQueue();
    renderUsers();
    renderHolidays();
    renderServiceChoices();
    renderServicePreview();
    renderAnnouncements();
    renderAnnPreview();
    renderCanned();
    for (const prefix of Object.keys(CODE_LISTS)) renumberCodeRows(prefix);
  }
});
loadCatalogue();
login.restore();
