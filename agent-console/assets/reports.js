// The reports page (/reports, staff and admins): pick a period (a day, a week, a month or any
// range of days in the hall's time zone) and a grouping, and read the figures of
// `GET /api/reports` as tables, with charts where people would rather look — calls per hour of
// day, service level per day, rating distribution — each drawn as an SVG with the same figures
// in a table beside it. Every table downloads as CSV (`/api/reports/<table>.csv`).
// docs/reports.md defines every figure.
import { StatusLine, formatNumber, setupLang, showError, t } from "./common.js";
import { Login } from "./console.js";

const $ = (id) => document.getElementById(id);
const el = {
  form: $("report-form"),
  kind: $("period-kind"),
  from: $("period-from"),
  fromLabel: $("period-from-label"),
  toField: $("period-to-field"),
  to: $("period-to"),
  group: $("group"),
  submit: $("report-submit"),
  error: $("report-error"),
  report: $("report"),
  range: $("report-range"),
  notes: $("report-notes"),
};

/** The last report shown, re-rendered on a language switch. */
let shown = null;

const count = (v) => formatNumber(v ?? 0);
const percent = (v) => (v == null ? "—" : `${formatNumber(v * 100, 1)} %`);
const seconds = (v) => (v == null ? "—" : t("reports.seconds", { n: formatNumber(v, 1) }));

/** Columns of the group tables: the JSON field, its heading's key, its format. */
const CALL_COLUMNS = [
  ["offered", "reports.col.offered", count],
  ["answered", "reports.col.answered", count],
  ["service_level", "reports.col.service_level", percent],
  ["average_speed_of_answer_s", "reports.col.asa", seconds],
  ["abandoned", "reports.col.abandoned", count],
  ["abandon_rate", "reports.col.abandon_rate", percent],
  ["turned_away_closed", "reports.col.closed", count],
  ["turned_away_full", "reports.col.full", count],
  ["turned_away_no_agents", "reports.col.no_agents", count],
  ["message_left", "reports.col.message_left", count],
  ["average_handle_s", "reports.col.aht", seconds],
  ["transfers", "reports.col.transfers", count],
  ["support_monitor", "reports.col.monitor", count],
  ["support_whisper", "reports.col.whisper", count],
  ["support_barge", "reports.col.barge", count],
  ["support_take_over", "reports.col.take_over", count],
  ["satisfied_share", "reports.col.satisfied", percent],
];
const ABANDON_COLUMNS = [
  ["abandoned_under_10s", "reports.wait.under_10s", count],
  ["abandoned_10_30s", "reports.wait.10_30s", count],
  ["abandoned_30_60s", "reports.wait.30_60s", count],
  ["abandoned_1_3min", "reports.wait.1_3min", count],
  ["abandoned_over_3min", "reports.wait.over_3min", count],
];
const MESSAGE_COLUMNS = [
  ["received", "reports.col.received", count],
  ["answered_on_time", "reports.col.on_time", count],
  ["on_time_share", "reports.col.on_time_share", percent],
  ["answered_late", "reports.col.late", count],
  ["open_overdue", "reports.col.open_overdue", count],
  ["open_in_time", "reports.col.open_in_time", count],
  ["closed_unanswered", "reports.col.closed_unanswered", count],
  ["satisfied_share", "reports.col.satisfied", percent],
  ["follow_ups_opened", "reports.col.follow_ups_opened", count],
  ["follow_ups_handled", "reports.col.follow_ups_handled", count],
];

// ---------------------------------------------------------------------------------------------
// Periods: days as "YYYY-MM-DD", computed in UTC so no time zone shifts them.

const iso = (date) => date.toISOString().slice(0, 10);
const parseDay = (text) => new Date(`${text}T00:00:00Z`);
const addDays = (text, n) => {
  const d = parseDay(text);
  d.setUTCDate(d.getUTCDate() + n);
  return iso(d);
};

/** `[from, to]` (both included) of the chosen kind of period around the chosen day. */
function period() {
  const day = el.from.value;
  if (!day) return null;
  switch (el.kind.value) {
    case "week": {
      const monday = addDays(day, -((parseDay(day).getUTCDay() + 6) % 7));
      return [monday, addDays(monday, 6)];
    }
    case "month": {
      const d = parseDay(day);
      const first = iso(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)));
      const last = iso(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)));
      return [first, last];
    }
    case "custom":
      return [day, el.to.value || day];
    default:
      return [day, day];
  }
}

function showKind() {
  const custom = el.kind.value === "custom";
  el.toField.hidden = !custom;
  el.to.required = custom;
  const label = { day: "reports.day", week: "reports.week_of", month: "reports.month_of" }[el.kind.value];
  el.fromLabel.dataset.i18n = label ?? "reports.from";
  el.fromLabel.textContent = t(el.fromLabel.dataset.i18n);
}

// ---------------------------------------------------------------------------------------------
// Loading

async function load() {
  // Before a day is chosen the server answers for the hall's today (in the hall's time zone,
  // which the browser's clock may not share) and the picker takes that day.
  const range = period();
  const query = new URLSearchParams(
    range ? { from: range[0], to: range[1], group: el.group.value } : { group: el.group.value },
  );
  showError(el.error, null);
  el.submit.disabled = true;
  status.set("loading", "reports.loading");
  try {
    const response = await fetch(`/api/reports?${query}`, { credentials: "same-origin" });
    if (response.status === 401) {
      login.refuse("status.session_expired");
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const key = `reports.error.${body.code}`;
      fail(t(key) === key ? body.message || t("reports.error.failed") : t(key));
      status.set("error", "reports.failed");
      return;
    }
    if (!el.from.value) el.from.value = body.from;
    shown = { report: body, query };
    render();
    status.set("shown", "reports.shown", { from: body.from, to: body.to });
  } catch {
    fail(t("reports.error.failed"));
    status.set("error", "reports.failed");
  } finally {
    el.submit.disabled = false;
  }
}

/** Says why there is no report, under the form. */
function fail(text) {
  el.error.textContent = text;
  el.error.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function cell(tag, text, attrs = {}) {
  const c = document.createElement(tag);
  c.textContent = text;
  for (const [k, v] of Object.entries(attrs)) c.setAttribute(k, v);
  return c;
}

/** A group row's name: the queue, service or agent in the page's language. */
function groupName(row) {
  if (row.key === "total") return t("reports.total");
  if (row.key === "") return t("reports.none");
  if (row.key === "voice" || row.key === "message") return t(`reports.channel.${row.key}`);
  const zh = document.documentElement.lang === "zh-CN";
  return (zh ? row.name_zh : row.name_en) || row.name_en || row.key;
}

/** Fills `table` with a heading row and one row per item; the first column names the row. */
function fillTable(table, firstHeading, columns, rows, rowName) {
  table.tHead.rows[0].replaceChildren(
    cell("th", firstHeading, { scope: "col" }),
    ...columns.map(([, key]) => cell("th", t(key), { scope: "col", class: "num" })),
  );
  table.tBodies[0].replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.key = row.key ?? "";
      tr.append(cell("th", rowName(row), { scope: "row" }));
      for (const [field, , format] of columns) tr.append(cell("td", format(row[field]), { class: "num" }));
      return tr;
    }),
  );
}

function csvLinks(container, tables) {
  const { query } = shown;
  container.replaceChildren(
    ...tables.map((name) => {
      const a = cell("a", t(`reports.csv.${name}`), { href: `/api/reports/${name}.csv?${query}`, download: "" });
      a.id = `csv-${name}`;
      a.dataset.testid = a.id;
      return a;
    }),
  );
}

const SVG_NS = $("hours-svg").namespaceURI;
const narrow = matchMedia("(max-width: 40rem)");
narrow.addEventListener("change", () => shown && render());

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A bar chart of `values` (labelled by `labels`, every `labelEvery`-th shown) up to `max`,
 * with gridlines labelled by `tick`. The figures are in the table beside it. */
function barChart(svg, labels, values, { max, tick, labelEvery = 1 }) {
  const box = narrow.matches
    ? { width: 320, height: 200, left: 40, right: 8, top: 12, bottom: 26 }
    : { width: 640, height: 220, left: 56, right: 12, top: 14, bottom: 30 };
  svg.setAttribute("viewBox", `0 0 ${box.width} ${box.height}`);
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  const top = Math.max(max, 1);
  const nodes = [];
  for (let i = 0; i <= 4; i++) {
    const y = box.top + plotH - (plotH * i) / 4;
    nodes.push(svgEl("line", { x1: box.left, x2: box.width - box.right, y1: y, y2: y, class: "chart-grid" }));
    nodes.push(svgEl("text", { x: box.left - 4, y: y + 4, "text-anchor": "end", class: "chart-label" }, tick((top * i) / 4)));
  }
  const step = plotW / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = (plotH * (v ?? 0)) / top;
    const x = box.left + i * step;
    nodes.push(svgEl("rect", { x: x + step * 0.15, width: step * 0.7, y: box.top + plotH - h, height: h, class: "chart-point-waiting" }));
    if (i % labelEvery === 0) {
      nodes.push(svgEl("text", { x: x + step / 2, y: box.height - 8, "text-anchor": "middle", class: "chart-label" }, labels[i]));
    }
  });
  nodes.push(svgEl("line", { x1: box.left, x2: box.width - box.right, y1: box.top + plotH, y2: box.top + plotH, class: "chart-axis" }));
  svg.replaceChildren(...nodes);
}

/** The top of a count chart: a multiple of 4, so its four gridlines fall on whole numbers. */
const countMax = (values) => Math.max(4, Math.ceil(Math.max(...values) / 4) * 4);

function render() {
  if (!shown) return;
  const r = shown.report;
  el.report.hidden = false;
  el.range.textContent = t("reports.range", { from: r.from, to: r.to });
  const groupHeading = t(`reports.group.${r.group}`);
  fillTable($("calls-figures"), groupHeading, CALL_COLUMNS, r.calls, groupName);
  fillTable($("abandon-figures"), groupHeading, ABANDON_COLUMNS, r.calls, groupName);
  fillTable($("messages-figures"), groupHeading, MESSAGE_COLUMNS, r.messages, groupName);
  el.notes.textContent = t("reports.notes", { seconds: r.service_level_seconds, acw: r.after_call_work_seconds });

  const hourName = (h) => t("reports.hour", { h: String(h.hour).padStart(2, "0") });
  fillTable($("hours-table"), t("reports.col.hour"), [
    ["arrived", "reports.col.arrived", count],
    ["offered", "reports.col.offered", count],
    ["answered", "reports.col.answered", count],
    ["abandoned", "reports.col.abandoned", count],
  ], r.hours, hourName);
  const most = countMax(r.hours.map((h) => h.arrived));
  barChart($("hours-svg"), r.hours.map((h) => String(h.hour)), r.hours.map((h) => h.arrived), {
    max: most, tick: (v) => formatNumber(Math.round(v)), labelEvery: narrow.matches ? 6 : 3,
  });

  fillTable($("days-table"), t("reports.col.day"), [
    ["offered", "reports.col.offered", count],
    ["answered", "reports.col.answered", count],
    ["service_level", "reports.col.service_level", percent],
    ["abandoned", "reports.col.abandoned", count],
  ], r.days, (d) => d.day);
  barChart($("days-svg"), r.days.map((d) => d.day.slice(5)), r.days.map((d) => (d.service_level ?? 0) * 100), {
    max: 100, tick: (v) => `${Math.round(v)}%`, labelEvery: Math.ceil(r.days.length / (narrow.matches ? 4 : 8)),
  });

  const levels = r.ratings.map((x) => ({ ...x, total: x.calls + x.messages }));
  fillTable($("ratings-table"), t("reports.col.level"), [
    ["calls", "reports.col.rated_calls", count],
    ["messages", "reports.col.rated_messages", count],
    ["total", "reports.col.rated_total", count],
  ], levels, (x) => t(`rating.level.${x.level}`));
  barChart($("ratings-svg"), levels.map((x) => String(x.level)), levels.map((x) => x.total), {
    max: countMax(levels.map((x) => x.total)), tick: (v) => formatNumber(Math.round(v)),
  });

  csvLinks($("csv-calls"), ["call-figures", "hours", "days", "ratings", "calls"]);
  csvLinks($("csv-messages"), ["message-figures"]);
}

// ---------------------------------------------------------------------------------------------

const status = new StatusLine($("status"));
const login = new Login({
  status,
  allowed: (role) => role === "staff" || role === "admin",
  notAllowedKey: "status.not_staff",
  onEnter: () => {
    load();
  },
  onLeave: () => {
    shown = null;
    el.report.hidden = true;
  },
});

el.kind.addEventListener("change", showKind);
el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
setupLang(() => {
  showKind();
  render();
});
showKind();
login.restore();
