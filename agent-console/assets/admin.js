// The admin console (`/admin`, role admin): users and roles (create, edit, disable, enable, reset
// password, unlock), who is signed in (end a session), queues with business hours as a form,
// the holiday calendar, knowledge articles with "try a question", and the admin audit log.
// Every change goes through the admin API, which validates it with the same rules whatever the
// client; a refusal is shown next to the field it names (`field` in the error body).
import {
  StatusLine,
  formatDateTime,
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
  if (editing) {
    const response = await api("PUT", `/api/admin/users/${encodeURIComponent(editing.id)}`, common);
    if (!response.ok) return showRefusal("user", response, formError);
    const skillsResponse = await api("PUT", `/api/admin/agents/${encodeURIComponent(editing.id)}/skills`, { skills });
    if (!skillsResponse.ok) return showRefusal("user", skillsResponse, formError);
    showResult(t("users.saved", { name: editing.username }));
  } else {
    const username = $("user-username").value.trim();
    if (!username) return fieldError("user", "username", t("admin.error.required"));
    const body = { ...common, username, skills };
    const password = $("user-password").value;
    if (password) body.password = password;
    const response = await api("POST", "/api/admin/users", body);
    if (!response.ok) return showRefusal("user", response, formError);
    const generated = response.body.generated_password;
    showResult(
      generated
        ? t("users.created_generated", { name: username, password: generated })
        : t("users.created", { name: username }),
    );
  }
  resetUserForm();
  await loadUsers();
}

function showResult(text) {
  const p = $("users-result");
  p.textContent = text;
  p.hidden = false;
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
  const response = await api("GET", "/api/catalogue");
  if (!response.ok) return;
  state.skills = response.body.skills;
  state.holidays = response.body.holidays;
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
  await Promise.all([loadUsers(), loadSessions(), loadArticles(), loadAudit()]);
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
$("kb-pick").addEventListener("change", showArticle);
$("kb-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitArticle().then(loadAudit);
});
$("kb-try-form").addEventListener("submit", (event) => {
  event.preventDefault();
  tryQuestion();
});
$("admin-audit-refresh").addEventListener("click", loadAudit);

buildHoursGrid();
setupLang(() => {
  buildHoursGrid();
  if (state.me) {
    showQueue();
    renderUsers();
    renderHolidays();
  }
});
loadCatalogue();
login.restore();
