// The staff console: sign in, keep one headset media connection for the whole session (slot 0
// the citizen, slot 1 the agent), watch the live wallboard, answer agents' help requests, join a
// call to monitor, whisper, barge in or take over, leave it, and read the audit log.
import {
  Signaling,
  StatusLine,
  formatClock,
  formatDate,
  formatDuration,
  formatNumber,
  loadCatalogue,
  reasonName,
  serviceName,
  setupLang,
  skillName,
  showError,
  supporterText,
  t,
  tOr,
} from "./common.js";
import { Headset, Login } from "./console.js";
import { setupInbox } from "./inbox.js";
import { announce } from "./console-care.js";
import { CHAT_REQUESTS, setupStaffChats } from "./staff-chat.js";

/** The support modes, in the order of the buttons (DESIGN.md, the staff modes table). */
const MODES = ["monitor", "whisper", "barge", "take_over"];
/** Client messages this console sends about calls; their replies refresh the audit log. */
const CALL_REQUESTS = new Set(["join_call", "set_mode", "leave_call", "accept_help"]);
/** How long an action waits for its reply before its buttons work again. */
const REPLY_TIMEOUT_MS = 5000;
const AUDIT_LIMIT = 50;
/** The service level a queue should reach when the server names none (older servers): the
 * field's common 80/20 norm. The server sends each queue's own (`service_level_target_pct`). */
const SL_TARGET_PCT = 80;
/** The history chart's drawing box (its SVG viewBox) and margins for the axes' labels. */
const CHART = { width: 640, height: 220, left: 44, right: 52, top: 14, bottom: 30, ticks: 4 };
/** On narrow screens a smaller box, so the 12-unit labels stay at least ~10 px on a 360 px phone. */
const CHART_NARROW = { width: 320, height: 200, left: 30, right: 40, top: 12, bottom: 26, ticks: 2 };
const narrowChart = matchMedia("(max-width: 40rem)");
narrowChart.addEventListener("change", () => renderChart(session.wallboard?.history ?? []));

const $ = (id) => document.getElementById(id);
const el = {
  mediaState: $("media-state"),
  currentMode: $("current-mode"),
  error: $("error-message"),
  wallboard: $("wallboard"),
  updated: $("wallboard-updated"),
  queues: $("queue-table").tBodies[0],
  agents: $("agents-table").tBodies[0],
  calls: $("calls-table").tBodies[0],
  chartSvg: $("chart-svg"),
  historyTable: $("history-table").tBodies[0],
  help: $("help-requests"),
  helpEmpty: $("help-empty"),
  auditScope: $("audit-scope"),
  auditAll: $("audit-all-button"),
  auditRefresh: $("audit-refresh-button"),
  auditError: $("audit-error"),
  audit: $("audit-table").tBodies[0],
  announcer: $("staff-announcer"),
  callsSort: $("calls-sort"),
  callsDurationCol: $("calls-duration-col"),
  tiles: {
    waiting: $("tile-waiting"),
    waitingNote: $("tile-waiting-note"),
    longest: $("tile-longest"),
    longestNote: $("tile-longest-note"),
    sl: $("tile-sl"),
    slNote: $("tile-sl-note"),
    agents: $("tile-agents"),
    agentsNote: $("tile-agents-note"),
    help: $("tile-help"),
    helpNote: $("tile-help-note"),
  },
};
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));
/** The SVG namespace, taken from the chart element the page already has. */
const SVG_NS = el.chartSvg.namespaceURI;

/** Everything this console knows; reset on logout. Times from the server (`*_ms`) are the
 * server's clock; `clockOffset` turns this browser's `Date.now()` into it. */
const session = {
  signaling: null,
  /** `{ id, name }` of the signed-in staff member. */
  me: null,
  /** The last `wallboard` message. */
  wallboard: null,
  /** Server time minus browser time, from the last wallboard. */
  clockOffset: 0,
  /** call_id → supporters, from `support_changed` received after the last wallboard (the
   * newer word on a call wins). */
  support: new Map(),
  /** call_id → the sides (`citizen`, `agent`) whose connection is lost, from
   * `peer_reconnecting` / `peer_reconnected` received after the last wallboard (the newer word
   * on a call wins over the wallboard's `reconnecting`). */
  lostPeers: new Map(),
  /** user_id → display name, for the audit log. */
  names: new Map(),
  /** The action waiting for its reply: `{ callId, type, timer }`; buttons wait meanwhile. */
  pending: null,
  /** The call whose audit log is shown, or null for all. */
  selectedCallId: null,
  /** The last audit entries loaded, and a counter that drops stale answers. */
  audit: [],
  auditSeq: 0,
  /** What the chart was last drawn from, to redraw only on change. */
  chartKey: "",
  /** What was announced (politely): the queues whose longest wait is over their limit and the
   * help requests seen. `null` until the first wallboard, which is taken as it is, unannounced. */
  alerts: null,
  /** The live calls' order by time: `descending` (the longest first) or `ascending`. */
  callsSort: "descending",
};

const headset = new Headset({ audios, stateElement: el.mediaState, errorElement: el.error, send });
const chats = setupStaffChats(send);
const login = new Login({
  status,
  allowed: (role) => role === "staff" || role === "admin",
  notAllowedKey: "status.not_staff",
  onEnter: enterConsole,
  onLeave: leaveConsole,
});

const inbox = setupInbox({ onUnauthorized: () => login.refuse("status.session_expired") });

setupLang(() => {
  session.chartKey = "";
  render();
  inbox.render();
});
loadCatalogue().then(() => render());
status.set("login", "status.login_required");
el.calls.addEventListener("click", onTableClick);
el.help.addEventListener("click", onTableClick);
el.auditAll.addEventListener("click", () => selectCall(null));
el.auditRefresh.addEventListener("click", refreshAudit);
el.callsSort.addEventListener("click", () => {
  session.callsSort = session.callsSort === "descending" ? "ascending" : "descending";
  render();
});
setInterval(renderClocks, 1000);
login.restore();

// --- session ----------------------------------------------------------------------------------

function enterConsole(user) {
  session.me = { id: user.id, name: user.display_name || user.username };
  session.names.set(user.id, session.me.name);
  session.signaling = new Signaling({ query: "?role=staff", onMessage, onDrop });
  session.signaling.open();
  inbox.start(session.me);
  render();
}

/** Closes the signaling and the headset and forgets the session's state. */
function leaveConsole() {
  session.signaling?.close();
  session.signaling = null;
  inbox.stop();
  headset.close();
  clearPending();
  session.lostPeers.clear();
  Object.assign(session, {
    me: null,
    wallboard: null,
    selectedCallId: null,
    audit: [],
    chartKey: "",
    alerts: null,
  });
  session.auditSeq++;
  session.support.clear();
  showError(el.error, null);
  render();
}

function send(msg) {
  if (!session.signaling?.send(msg)) {
    showError(el.error, { code: "offline", message: t("status.offline") });
    return false;
  }
  return true;
}

// --- messages ---------------------------------------------------------------------------------

async function onMessage(msg) {
  if (chats.onMessage(msg)) {
    // The effect of an audited chat action: its entry is in the log now.
    if (["chat_watching", "chat_whisper", "chat_connected", "chat_ended"].includes(msg.type)) refreshAudit();
    return;
  }
  switch (msg.type) {
    case "welcome":
      await onWelcome(msg);
      break;
    case "media_answer":
      await headset.answer(msg.sdp);
      break;
    case "media_state":
      headset.setState(msg.state);
      break;
    case "wallboard":
      session.wallboard = msg;
      session.clockOffset = msg.at_ms - Date.now();
      session.support.clear();
      session.lostPeers.clear();
      break;
    case "support_changed":
      onSupportChanged(msg);
      break;
    case "call_ended":
      onCallEnded(msg);
      break;
    case "peer_reconnecting":
      session.lostPeers.set(msg.call_id, [...new Set([...lostSides(msg.call_id), msg.peer])]);
      status.set("peer_reconnecting", `staff.peer_reconnecting.${msg.peer === "agent" ? "agent" : "citizen"}`, {
        seconds: Math.max(0, Math.ceil((msg.reconnect_by_ms - serverNow()) / 1000)),
      });
      break;
    case "peer_reconnected":
      session.lostPeers.set(msg.call_id, lostSides(msg.call_id).filter((side) => side !== msg.peer));
      status.set("peer_reconnected", `staff.peer_reconnected.${msg.peer === "agent" ? "agent" : "citizen"}`);
      break;
    case "error":
      onError(msg);
      break;
    case "help_status":
    case "pong":
      break;
    default:
      console.warn("voicedesk: unexpected message", msg.type);
  }
  render();
}

async function onWelcome(msg) {
  if (msg.role !== "staff" && msg.role !== "admin") {
    login.refuse("status.not_staff");
    return;
  }
  if (msg.user) {
    session.me = { id: msg.user.id, name: msg.user.display_name || msg.user.username };
    session.names.set(msg.user.id, session.me.name);
  }
  showError(el.error, null);
  status.set("logged_in", "status.logged_in", { name: session.me?.name ?? "" });
  refreshAudit();
  await headset.open();
}

async function onDrop(retrySeconds, welcomed) {
  // The server drops the headset and every call this connection supported.
  headset.close();
  clearPending();
  session.support.clear();
  session.lostPeers.clear();
  session.wallboard = null;
  status.set("reconnecting", "status.reconnecting", { seconds: retrySeconds });
  render();
  if (!welcomed) await login.check();
}

function onSupportChanged(msg) {
  const before = myMode(msg.call_id);
  session.support.set(msg.call_id, msg.supporters);
  rememberNames(msg.supporters);
  const after = myMode(msg.call_id);
  if (after && after !== before) {
    status.set("supporting", "staff.joined", { mode: t(`mode.${after}`) });
  } else if (before && !after) {
    status.set("left", "staff.left");
  }
  if (session.pending?.callId === msg.call_id) replyArrived();
}

function onCallEnded(msg) {
  const wasMine = myMode(msg.call_id);
  session.support.set(msg.call_id, []);
  session.lostPeers.delete(msg.call_id);
  if (wasMine) status.set("call_ended", "staff.call_ended", { reason: () => tOr("end.", msg.reason) });
  if (session.pending?.callId === msg.call_id) replyArrived();
}

function onError(msg) {
  if (CHAT_REQUESTS.has(msg.request_type)) {
    chats.onError(msg);
    return;
  }
  showError(el.error, msg);
  if (msg.request_type === "media_connect") headset.setState("failed");
  if (session.pending && CALL_REQUESTS.has(msg.request_type)) replyArrived();
}

// --- what this staff member does ----------------------------------------------------------------

/** The supporters of a call: the newest word from `support_changed` or the wallboard. */
function supportersOf(callId) {
  return (
    session.support.get(callId) ??
    session.wallboard?.calls.find((call) => call.call_id === callId)?.supporters ??
    []
  );
}

/** The sides of a call whose connection is lost and waited for (`citizen`, `agent`): the
 * newest word from `peer_reconnecting` / `peer_reconnected` or the wallboard. */
function lostSides(callId) {
  const sides =
    session.lostPeers.get(callId) ??
    session.wallboard?.calls.find((call) => call.call_id === callId)?.reconnecting ??
    [];
  return sides.filter((side) => side === "citizen" || side === "agent");
}

/** This staff member's mode on a call, or null. */
function myMode(callId) {
  if (!session.me) return null;
  return supportersOf(callId).find((s) => s.user_id === session.me.id)?.mode ?? null;
}

/** The call this staff member is on: `{ id, mode, call }` (the wallboard row, when known). */
function myCall() {
  const ids = new Set([
    ...(session.wallboard?.calls ?? []).map((call) => call.call_id),
    ...session.support.keys(),
  ]);
  for (const id of ids) {
    const mode = myMode(id);
    if (mode) {
      return { id, mode, call: session.wallboard?.calls.find((c) => c.call_id === id) ?? null };
    }
  }
  return null;
}

function onTableClick(event) {
  const button = event.target.closest("button[data-action]");
  const row = button?.closest("[data-call-id]");
  if (!button || !row || button.disabled) return;
  const callId = row.dataset.callId;
  const action = button.dataset.action;
  if (action === "select") selectCall(session.selectedCallId === callId ? null : callId);
  else act(callId, action);
}

/** Sends the message for a button: `join_call` when not yet on the call, else `set_mode`;
 * `leave_call`; `accept_help`. */
function act(callId, action) {
  if (session.pending) return;
  const mine = myMode(callId);
  let msg;
  if (action === "leave") {
    if (!mine) return;
    msg = { type: "leave_call", call_id: callId };
  } else if (action === "accept_help") {
    msg = { type: "accept_help", call_id: callId };
  } else if (MODES.includes(action)) {
    if (mine === action) return;
    msg = mine
      ? { type: "set_mode", call_id: callId, mode: action }
      : { type: "join_call", call_id: callId, mode: action };
  } else {
    return;
  }
  if (!send(msg)) return;
  showError(el.error, null);
  session.pending = {
    callId,
    type: msg.type,
    timer: setTimeout(() => {
      replyArrived();
      render();
    }, REPLY_TIMEOUT_MS),
  };
  render();
}

/** The reply to the pending action came (or did not in time): buttons work again and the audit
 * log shows what was written. */
function replyArrived() {
  clearPending();
  refreshAudit();
}

function clearPending() {
  clearTimeout(session.pending?.timer);
  session.pending = null;
}

function selectCall(callId) {
  session.selectedCallId = callId;
  render();
  refreshAudit();
}

function rememberNames(supporters) {
  for (const s of supporters) session.names.set(s.user_id, s.name);
}

// --- audit log --------------------------------------------------------------------------------

/** Loads `GET /api/audit?limit=50` (for the selected call only, when one is selected). */
async function refreshAudit() {
  if (!session.me) return;
  const seq = ++session.auditSeq;
  const params = new URLSearchParams({ limit: String(AUDIT_LIMIT) });
  if (session.selectedCallId) params.set("call_id", session.selectedCallId);
  let response;
  let body;
  try {
    response = await fetch(`/api/audit?${params}`, {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
    body = response.ok ? await response.json() : null;
  } catch {
    if (seq === session.auditSeq) auditError(t("login.unreachable"));
    return;
  }
  if (seq !== session.auditSeq) return;
  if (response.status === 401) {
    login.refuse("status.session_expired");
    return;
  }
  if (!response.ok || !Array.isArray(body?.entries)) {
    auditError(t("audit.unavailable", { status: response.status }));
    return;
  }
  auditError(null);
  // Staff on live chats (issue 16) are audited in a table of their own: shown with the calls'
  // entries, keyed apart (the two tables number their rows independently).
  const chatEntries = Array.isArray(body.chat_entries) ? body.chat_entries : [];
  session.audit = [
    ...body.entries,
    ...chatEntries.map((e) => ({ ...e, id: `chat-${e.id}`, call_id: e.chat_id, chat: true })),
  ];
  renderAudit();
}

function auditError(text) {
  el.auditError.hidden = !text;
  el.auditError.textContent = text ?? "";
}

// --- rendering --------------------------------------------------------------------------------

function serverNow() {
  return Date.now() + session.clockOffset;
}

/** Brings every element in line with `session` (after each message and language switch). */
function render() {
  headset.render();
  const board = session.wallboard;
  if (board) {
    rememberNames(board.calls.flatMap((call) => call.supporters));
    for (const agent of board.agents) session.names.set(agent.user_id, agent.name);
  }
  el.wallboard.dataset.state = board ? "live" : "waiting";
  el.updated.textContent = board
    ? t("wallboard.updated", { time: formatClock(board.at_ms, true) })
    : t("wallboard.waiting_data");
  renderTiles(board);
  renderQueues(board?.queues ?? []);
  renderCalls(sortCalls(board?.calls ?? []));
  chats.setBoard(board);
  renderAgents(board?.agents ?? []);
  renderHelp(board?.help_requests ?? [], board?.calls ?? []);
  renderChart(board?.history ?? []);
  renderCurrentMode();
  renderAudit();
  renderClocks();
  announceHelp(board?.help_requests ?? []);
}

/** Announces help requests that were not there before (not those of the first wallboard). */
function announceHelp(requests) {
  if (!session.wallboard) return;
  const first = !session.alerts;
  session.alerts ??= { over: new Set(), help: new Set() };
  const fresh = requests.filter((h) => !session.alerts.help.has(h.call_id));
  session.alerts.help = new Set(requests.map((h) => h.call_id));
  if (first || !fresh.length) return;
  announce(
    el.announcer,
    fresh
      .map((h) => t("announce.help_request", { agent: h.agent_name, reason: h.reason?.trim() || t("help.no_reason") }))
      .join(" "),
  );
}

/** Marks each queue whose longest wait is over its service-level threshold, in words, and
 * announces a queue crossing it (once, until it is back under). */
function renderLimits() {
  const board = session.wallboard;
  if (!board) return;
  const now = serverNow();
  const crossed = [];
  const first = !session.alerts;
  session.alerts ??= { over: new Set(), help: new Set(board.help_requests.map((h) => h.call_id)) };
  for (const q of board.queues) {
    const waitMs = q.waiting > 0 ? now - (board.at_ms - q.longest_wait_ms) : 0;
    const over = q.waiting > 0 && q.service_level_seconds > 0 && waitMs > q.service_level_seconds * 1000;
    // The mark is words, not only a colour: shown after the time by the style sheet
    // (`data-over-text`), so the cell's own text stays the time.
    const cell = el.queues.querySelector(`tr[data-queue="${CSS.escape(q.name)}"]`)?.cells[2];
    if (cell) {
      cell.dataset.over = String(over);
      cell.dataset.overText = t("wallboard.over_limit", { seconds: q.service_level_seconds });
    }
    if (over && !session.alerts.over.has(q.name)) {
      session.alerts.over.add(q.name);
      if (!first && q.name !== "all") {
        crossed.push(t("announce.queue_over", { queue: skillName(q.name), seconds: q.service_level_seconds }));
      }
    } else if (!over) {
      session.alerts.over.delete(q.name);
    }
  }
  renderLongestTile(now);
  if (crossed.length) announce(el.announcer, crossed.join(" "));
}

/** The live calls by how long the citizen has been with us (queued at), the longest first or
 * last as the Time column's heading says. */
function sortCalls(calls) {
  const sign = session.callsSort === "descending" ? 1 : -1;
  el.callsDurationCol.setAttribute("aria-sort", session.callsSort);
  el.callsSort.setAttribute(
    "aria-label",
    t(session.callsSort === "descending" ? "calls.sorted_longest" : "calls.sorted_newest"),
  );
  return [...calls].sort((a, b) => sign * (a.queued_at_ms - b.queued_at_ms) || compareIds(a.call_id, b.call_id));
}

/** The headline numbers of the whole centre (the `all` row), each with a word for its state. */
function renderTiles(board) {
  const all = board?.queues.find((q) => q.name === "all") ?? null;
  const tiles = el.tiles;
  const level = (node, value) => {
    node.closest(".tile").dataset.level = value;
  };
  if (!all) {
    for (const node of [tiles.waiting, tiles.longest, tiles.sl, tiles.agents, tiles.help]) {
      setText(node, "—");
      level(node, "none");
    }
    for (const note of [tiles.waitingNote, tiles.longestNote, tiles.slNote, tiles.agentsNote, tiles.helpNote]) {
      setText(note, "");
    }
    return;
  }
  setText(tiles.waiting, String(all.waiting));
  level(tiles.waiting, all.waiting > 0 ? "warn" : "ok");
  setText(tiles.waitingNote, all.waiting > 0 ? t("tiles.waiting_some") : t("tiles.waiting_none"));
  // The longest wait ticks with the clocks (renderLimits), like the queue table's.
  setSince(tiles.longest, all.waiting > 0 ? board.at_ms - all.longest_wait_ms : null);
  if (all.service_level_pct == null) {
    setText(tiles.sl, "—");
    level(tiles.sl, "none");
    setText(tiles.slNote, t("tiles.sl_none"));
  } else {
    setText(tiles.sl, t("chart.percent", { pct: formatNumber(all.service_level_pct, 0) }));
    const target = all.service_level_target_pct || SL_TARGET_PCT;
    const below = all.service_level_pct < target;
    level(tiles.sl, below ? "alert" : "ok");
    setText(tiles.slNote, t(below ? "tiles.sl_below" : "tiles.sl_met", { target, seconds: all.service_level_seconds }));
  }
  const available = all.available_agents ?? 0;
  setText(tiles.agents, all.available_agents == null ? "—" : `${available} / ${all.staffed_agents ?? "—"}`);
  const noneFree = all.available_agents != null && available === 0;
  level(tiles.agents, noneFree ? (all.waiting > 0 ? "alert" : "warn") : "ok");
  setText(tiles.agentsNote, noneFree ? t("tiles.agents_none") : t("tiles.agents_some"));
  const help = board.help_requests.length;
  setText(tiles.help, String(help));
  level(tiles.help, help > 0 ? "alert" : "ok");
  setText(tiles.helpNote, help > 0 ? t("tiles.help_waiting") : t("tiles.help_none"));
}

/** The longest-wait tile against the service-level threshold, in words (as the queue table). */
function renderLongestTile(now) {
  const board = session.wallboard;
  const all = board?.queues.find((q) => q.name === "all");
  if (!all) return;
  const waitMs = all.waiting > 0 ? now - (board.at_ms - all.longest_wait_ms) : 0;
  // The strictest threshold of the queues with calls waiting.
  const limits = board.queues.filter((q) => q.name !== "all" && q.waiting > 0 && q.service_level_seconds > 0);
  const seconds = limits.length ? Math.min(...limits.map((q) => q.service_level_seconds)) : all.service_level_seconds;
  const over = all.waiting > 0 && seconds > 0 && waitMs > seconds * 1000;
  el.tiles.longest.closest(".tile").dataset.level = all.waiting === 0 ? "ok" : over ? "alert" : "warn";
  setText(
    el.tiles.longestNote,
    all.waiting === 0
      ? t("tiles.longest_none")
      : over
        ? t("wallboard.over_limit", { seconds })
        : t("tiles.longest_within", { seconds }),
  );
}

function renderCurrentMode() {
  const mine = myCall();
  el.currentMode.dataset.mode = mine?.mode ?? "none";
  el.currentMode.dataset.callId = mine?.id ?? "";
  // A side of this call whose connection is lost (`peer_reconnecting`, or the wallboard's word).
  const lost = mine ? lostSides(mine.id) : [];
  el.currentMode.dataset.reconnecting = lost.join(" ");
  setText(
    el.currentMode,
    mine
      ? [
          t("staff.on_call", {
            mode: t(`mode.${mine.mode}`),
            service: serviceName(mine.call?.service),
            agent: mine.call?.agent_name ?? "—",
          }),
          ...lost.map((side) => t(`calls.reconnecting.${side}`)),
        ].join(t("list.separator"))
      : t("mode.none"),
  );
}

function renderQueues(queues) {
  const atMs = session.wallboard?.at_ms ?? 0;
  syncRows(el.queues, queues, {
    key: (q) => q.name,
    attr: "data-queue",
    columns: 8,
    empty: "queues.empty",
    create: () => row(["th", "td.num", "td.num", "td.num", "td.num", "td.num", "td.num", "td"]),
    update(tr, q) {
      const [name, waiting, longest, answered, abandoned, level, agents, chats] = tr.cells;
      // Live chats (issue 16): of the waiting, the chats, their longest wait, and those on.
      const chatsWaiting = q.chats_waiting ?? 0;
      setText(
        chats,
        t(chatsWaiting ? "queues.chats_value_waiting" : "queues.chats_value", {
          waiting: chatsWaiting,
          active: q.active_chats ?? 0,
          longest: formatDuration(q.longest_chat_wait_ms ?? 0),
        }),
      );
      tr.classList.toggle("total", q.name === "all");
      setText(
        agents,
        q.available_agents == null ? "—" : `${q.available_agents} / ${q.staffed_agents ?? "—"}`,
      );
      name.scope = "row";
      setText(name, q.name === "all" ? t("queues.all") : skillName(q.name));
      setText(waiting, String(q.waiting));
      setSince(longest, q.waiting > 0 ? atMs - q.longest_wait_ms : null);
      setText(answered, String(q.answered_today));
      setText(abandoned, String(q.abandoned_today));
      // Each queue against its own target; a miss is said in words (the style sheet shows
      // `data-over-text` after the value), not only by colour.
      const target = q.service_level_target_pct || SL_TARGET_PCT;
      const below = q.service_level_pct != null && q.service_level_pct < target;
      level.dataset.over = String(below);
      level.dataset.overText = below ? t("queues.sl_below") : "";
      const seconds = q.service_level_seconds;
      setText(
        level,
        q.service_level_pct == null
          ? t("queues.sl_no_calls", { seconds, target })
          : t("queues.sl_value", { pct: formatNumber(q.service_level_pct, 1), seconds, target }),
      );
    },
  });
}

function renderAgents(agents) {
  syncRows(el.agents, agents, {
    key: (a) => a.user_id,
    attr: "data-agent-id",
    columns: 4,
    empty: "agents.empty",
    create: () => row(["th", "td", "td.num", "td.num"]),
    update(tr, a) {
      const [name, state, since, chats] = tr.cells;
      // The agent's chat load against their capacity (issue 16).
      setText(chats, a.chat_capacity == null ? "—" : `${a.chats ?? 0} / ${a.chat_capacity}`);
      name.scope = "row";
      setText(name, a.name);
      state.dataset.state = a.state;
      setText(
        state,
        a.state === "away" && a.reason
          ? t("list.pair", { first: tOr("activity.", a.state), second: reasonName(a.reason) })
          : tOr("activity.", a.state),
      );
      name.title = (a.skills ?? []).map(skillName).join(t("list.separator"));
      setSince(since, a.since_ms);
    },
  });
}

function renderCalls(calls) {
  const mine = myCall();
  const busy = Boolean(session.pending);
  const ready = headset.state === "connected";
  syncRows(el.calls, calls, {
    key: (c) => c.call_id,
    attr: "data-call-id",
    columns: 7,
    empty: "calls.empty",
    create: createCallRow,
    update(tr, call) {
      const [service, phase, agent, duration, supporters, quality] = tr.cells;
      const supporting = supportersOf(call.call_id);
      const mode = myMode(call.call_id);
      tr.dataset.phase = call.phase;
      tr.classList.toggle("mine", Boolean(mode));
      tr.classList.toggle("selected", session.selectedCallId === call.call_id);
      setText(
        service,
        call.skill
          ? t("list.pair", { first: serviceName(call.service), second: skillName(call.skill) })
          : serviceName(call.service),
      );
      phase.dataset.phase = call.phase;
      // A side whose connection is lost and waited for, in words (`reconnecting`).
      const lost = lostSides(call.call_id);
      tr.dataset.reconnecting = lost.join(" ");
      setText(
        phase,
        [tOr("phase.", call.phase), ...lost.map((side) => t(`calls.reconnecting.${side}`))].join(t("list.separator")),
      );
      setText(agent, call.agent_name ?? "—");
      setSince(duration, call.answered_at_ms ?? call.queued_at_ms);
      setText(supporters, supporting.length ? supporting.map(supporterText).join(t("list.separator")) : "—");
      renderQuality(quality, call);
      // On narrow screens the row is shown as a card: each cell names its column.
      ["calls.service", "calls.phase", "calls.agent", "calls.duration", "calls.supporters", "calls.quality"].forEach((key, i) => {
        tr.cells[i].dataset.label = t(key);
      });

      const group = tr.querySelector("[role=group]");
      group.setAttribute(
        "aria-label",
        t("calls.actions_for", { service: serviceName(call.service), agent: call.agent_name ?? "—" }),
      );
      // One call at a time on the one headset: leave the current call before joining another.
      const onOther = Boolean(mine && mine.id !== call.call_id);
      for (const button of group.querySelectorAll("button[data-action]")) {
        const action = button.dataset.action;
        if (MODES.includes(action)) {
          setText(button, t(`mode.${action}`));
          button.title = t(`mode.hint.${action}`);
          button.setAttribute("aria-pressed", String(mode === action));
          button.disabled =
            busy ||
            !ready ||
            call.phase !== "talking" ||
            onOther ||
            (mode === "take_over" && action !== "take_over");
        } else if (action === "leave") {
          setText(button, t("button.leave"));
          button.disabled = busy || !mode;
        } else if (action === "select") {
          setText(button, t("button.log"));
          button.setAttribute("aria-pressed", String(session.selectedCallId === call.call_id));
        }
      }
    },
  });
}

/** MOS below this is "poor" (ITU-T G.107's band): the supervisor's eye is drawn to it. */
const POOR_MOS = 3.1;

/** Each side's estimated audio quality (MOS of what that side sends to the relay, from its
 * loss and jitter), with the figures behind it in the title; a poor side is marked. */
function renderQuality(cell, call) {
  const sides = [
    ["citizen", call.citizen_quality],
    ["agent", call.agent_quality],
  ].filter(([, q]) => q);
  const poor = sides.filter(([, q]) => q.mos < POOR_MOS).map(([side]) => side);
  cell.dataset.poor = poor.join(" ");
  cell.classList.toggle("poor", poor.length > 0);
  setText(
    cell,
    sides.length
      ? sides
          .map(([side, q]) => t(`calls.quality.${side}`, { mos: q.mos.toFixed(1) }) + (q.mos < POOR_MOS ? t("calls.quality.poor_mark") : ""))
          .join(t("list.separator"))
      : "—",
  );
  cell.title = sides
    .map(([side, q]) =>
      t("calls.quality.detail", {
        side: t(`calls.quality.side.${side}`),
        mos: q.mos.toFixed(2),
        loss: q.loss_pct.toFixed(1),
        jitter: q.jitter_ms.toFixed(0),
        rtt: q.rtt_ms == null ? "—" : q.rtt_ms.toFixed(0),
      }),
    )
    .join("\n");
}

function createCallRow() {
  const tr = row(["td", "td", "td", "td.num", "td", "td.quality", "td"]);
  const group = document.createElement("div");
  group.className = "row-actions";
  group.setAttribute("role", "group");
  for (const action of [...MODES, "leave", "select"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    if (action === "take_over" || action === "leave") button.className = "danger-outline";
    if (action === "select") button.className = "link";
    group.append(button);
  }
  tr.cells[6].append(group);
  return tr;
}

function renderHelp(requests, calls) {
  const mine = myCall();
  const busy = Boolean(session.pending);
  const ready = headset.state === "connected";
  const sorted = [...requests].sort((a, b) => a.requested_at_ms - b.requested_at_ms);
  el.helpEmpty.hidden = sorted.length > 0;
  syncRows(el.help, sorted, {
    key: (h) => h.call_id,
    attr: "data-call-id",
    create() {
      const li = document.createElement("li");
      li.className = "help-item";
      const text = document.createElement("span");
      text.className = "help-text";
      const meta = document.createElement("span");
      meta.className = "help-meta muted";
      const label = document.createElement("span");
      const since = document.createElement("span");
      since.className = "help-waiting";
      meta.append(label, " ", since);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "primary";
      button.dataset.action = "accept_help";
      li.append(text, meta, button);
      return li;
    },
    update(li, h) {
      const [text, meta, button] = li.children;
      const [label, since] = meta.children;
      const call = calls.find((c) => c.call_id === h.call_id);
      const reason = h.reason?.trim() || t("help.no_reason");
      setText(text, t("help.row", { agent: h.agent_name, reason }));
      setText(label, t("list.pair", { first: serviceName(call?.service), second: t("help.waiting") }));
      setSince(since, h.requested_at_ms);
      setText(button, t("button.accept_help"));
      button.setAttribute("aria-label", t("help.accept_label", { agent: h.agent_name, reason }));
      button.disabled = busy || !ready || Boolean(mine && mine.id !== h.call_id);
    },
  });
}

function renderAudit() {
  const entries = [...session.audit].sort((a, b) => b.at_ms - a.at_ms || compareIds(b.id, a.id));
  const selected = session.selectedCallId;
  el.auditScope.textContent = selected
    ? t("audit.scope_call", { call: describeCall(selected) })
    : t("audit.scope_all");
  el.auditAll.hidden = !selected;
  syncRows(el.audit, entries, {
    key: (e) => String(e.id),
    attr: "data-audit-id",
    columns: 6,
    empty: "audit.empty",
    create: () => row(["td", "td", "td", "td", "td", "td"]),
    update(tr, e) {
      const [at, actor, call, action, mode, detail] = tr.cells;
      tr.dataset.auditAction = e.action;
      tr.dataset.auditMode = e.mode ?? "";
      tr.dataset.auditCallId = e.call_id ?? "";
      setText(at, formatClock(e.at_ms, true));
      at.title = formatDate(e.at_ms);
      setText(actor, e.actor_name ?? session.names.get(e.actor_id) ?? shortId(e.actor_id));
      // The call as it was when the entry was written (the server's `agent_name` at that
      // moment): after a take over the wallboard names the staff member as the agent.
      setText(call, e.call_id ? describeAuditCall(e) : "—");
      call.title = e.call_id ?? "";
      setText(action, tOr("audit_action.", e.action));
      setText(mode, e.mode ? tOr("mode.", e.mode) : "—");
      setText(detail, e.detail ?? "");
    },
  });
}

function compareIds(a, b) {
  return typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
}

/** A call as people know it: its service and agent when it is on the wallboard, else its id. */
function describeCall(callId) {
  const call = session.wallboard?.calls.find((c) => c.call_id === callId);
  if (!call) return shortId(callId);
  return t("staff.call_label", { service: serviceName(call.service), agent: call.agent_name ?? "—", id: shortId(callId) });
}

/** An audit entry's call: its service and the agent it had at that moment, from the entry. */
function describeAuditCall(e) {
  if (e.agent_name === undefined && e.service === undefined) return describeCall(e.call_id);
  return t("staff.call_label", {
    service: serviceName(e.service ?? null),
    agent: e.agent_name ?? "—",
    id: shortId(e.call_id),
  });
}

function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

/** The numbers that tick every second: every element with `data-since-ms`. */
function renderClocks() {
  const now = serverNow();
  for (const node of document.querySelectorAll("[data-since-ms]")) {
    setText(node, formatDuration(now - Number(node.dataset.sinceMs)));
  }
  renderLimits();
}

// --- the history chart ------------------------------------------------------------------------

/** Queue length (left axis) and service level (right axis, %) over the history points, as an
 * inline SVG, with an aria-label summary and the same data in a visually hidden table. */
function renderChart(history) {
  const last = history.at(-1);
  const key = `${narrowChart.matches}|${history.length}|${history[0]?.at_ms}|${last?.at_ms}|${last?.waiting}|${last?.service_level_pct}`;
  if (key === session.chartKey) return;
  session.chartKey = key;

  const svg = el.chartSvg;
  svg.replaceChildren();
  el.historyTable.replaceChildren();
  const box = narrowChart.matches ? CHART_NARROW : CHART;
  const { width: W, height: H, left, right, top, bottom, ticks } = box;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  if (!history.length) {
    svg.setAttribute("aria-label", t("chart.empty"));
    svg.append(svgText(W / 2, H / 2, t("chart.empty"), "chart-empty", "middle"));
    return;
  }

  const t0 = history[0].at_ms;
  const t1 = Math.max(last.at_ms, t0 + 60_000);
  const maxWaiting = Math.max(...history.map((p) => p.waiting));
  const yTop = Math.max(4, Math.ceil(maxWaiting / 4) * 4);
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const x = (ms) => left + ((ms - t0) / (t1 - t0)) * plotW;
  const yWaiting = (v) => top + plotH - (v / yTop) * plotH;
  const yLevel = (pct) => top + plotH - (Math.min(100, Math.max(0, pct)) / 100) * plotH;

  // Grid and the left axis (calls waiting).
  for (let i = 0; i <= 4; i++) {
    const value = (yTop / 4) * i;
    const y = yWaiting(value);
    svg.append(svgLine(left, y, W - right, y, "chart-grid"));
    svg.append(svgText(left - 6, y + 4, String(value), "chart-label", "end"));
  }
  // The right axis (service level).
  for (const pct of [0, 50, 100]) {
    svg.append(svgText(W - right + 6, yLevel(pct) + 4, t("chart.percent", { pct: formatNumber(pct) }), "chart-label chart-label-sl", "start"));
  }
  // The time axis.
  svg.append(svgLine(left, top + plotH, W - right, top + plotH, "chart-axis"));
  svg.append(svgLine(left, top, left, top + plotH, "chart-axis"));
  svg.append(svgLine(W - right, top, W - right, top + plotH, "chart-axis"));
  // Over a short span, minutes alone would repeat: show seconds too.
  const withSeconds = t1 - t0 < ticks * 60_000;
  for (let i = 0; i <= ticks; i++) {
    const ms = t0 + ((t1 - t0) / ticks) * i;
    const xi = x(ms);
    svg.append(svgLine(xi, top + plotH, xi, top + plotH + 4, "chart-axis"));
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    svg.append(svgText(xi, H - 8, formatClock(ms, withSeconds), "chart-label", anchor));
  }

  // The two series; the service level has gaps where it was not known.
  svg.append(svgPath(polyline(history.map((p) => [x(p.at_ms), yWaiting(p.waiting)])), "chart-waiting"));
  const segments = [];
  let segment = [];
  for (const p of history) {
    if (p.service_level_pct == null) {
      if (segment.length) segments.push(segment);
      segment = [];
    } else {
      segment.push([x(p.at_ms), yLevel(p.service_level_pct)]);
    }
  }
  if (segment.length) segments.push(segment);
  svg.append(svgPath(segments.map(polyline).join(" "), "chart-sl"));
  if (history.length === 1) {
    svg.append(svgCircle(x(last.at_ms), yWaiting(last.waiting), "chart-point-waiting"));
    if (last.service_level_pct != null) {
      svg.append(svgCircle(x(last.at_ms), yLevel(last.service_level_pct), "chart-point-sl"));
    }
  }

  svg.setAttribute(
    "aria-label",
    t("chart.summary", {
      from: formatClock(t0),
      to: formatClock(last.at_ms),
      now: last.waiting,
      max: maxWaiting,
      sl: last.service_level_pct == null ? "—" : t("chart.percent", { pct: formatNumber(last.service_level_pct, 1) }),
    }),
  );
  for (const p of history) {
    const tr = row(["th", "td", "td"]);
    tr.cells[0].scope = "row";
    tr.cells[0].textContent = formatClock(p.at_ms);
    tr.cells[1].textContent = String(p.waiting);
    tr.cells[2].textContent = p.service_level_pct == null ? "—" : formatNumber(p.service_level_pct, 1);
    el.historyTable.append(tr);
  }
}

function polyline(points) {
  return points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)} ${py.toFixed(1)}`).join(" ");
}

function svgElement(name, attributes) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [attribute, value] of Object.entries(attributes)) node.setAttribute(attribute, value);
  return node;
}

function svgLine(x1, y1, x2, y2, className) {
  return svgElement("line", { x1, y1, x2, y2, class: className });
}

function svgText(x, y, text, className, anchor) {
  const node = svgElement("text", { x, y, class: className, "text-anchor": anchor });
  node.textContent = text;
  return node;
}

function svgPath(d, className) {
  return svgElement("path", { d: d || "M0 0", class: className, fill: "none" });
}

function svgCircle(cx, cy, className) {
  return svgElement("circle", { cx, cy, r: 3, class: className });
}

// --- DOM helpers ------------------------------------------------------------------------------

/** A table row with one cell per spec: `"th"`, `"td"` or `"td.num"` (right-aligned number). */
function row(specs) {
  const tr = document.createElement("tr");
  for (const spec of specs) {
    const [tag, className] = spec.split(".");
    const cell = document.createElement(tag);
    if (className) cell.className = className;
    tr.append(cell);
  }
  return tr;
}

/**
 * Makes `container`'s keyed children match `items` in order, reusing the element of an item
 * already shown (so focus and a half-done click survive a wallboard update). `attr` carries
 * the key; `columns`/`empty` show a one-cell row with a text when there are no items.
 */
function syncRows(container, items, { key, attr, create, update, columns, empty }) {
  const existing = new Map();
  for (const child of [...container.children]) {
    if (child.hasAttribute(attr)) existing.set(child.getAttribute(attr), child);
    else child.remove();
  }
  let previous = null;
  for (const item of items) {
    const id = key(item);
    let node = existing.get(id);
    if (node) {
      existing.delete(id);
    } else {
      node = create(item);
      node.setAttribute(attr, id);
    }
    update(node, item);
    const wanted = previous ? previous.nextSibling : container.firstChild;
    if (wanted !== node) container.insertBefore(node, wanted);
    previous = node;
  }
  for (const node of existing.values()) node.remove();
  if (!items.length && empty) {
    const tr = document.createElement("tr");
    tr.className = "empty-row";
    const cell = document.createElement("td");
    cell.colSpan = columns;
    cell.textContent = t(empty);
    tr.append(cell);
    container.append(tr);
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A cell that shows the time since `sinceMs` (server clock), ticking; `null` shows 0:00. */
function setSince(node, sinceMs) {
  if (sinceMs == null) {
    delete node.dataset.sinceMs;
    setText(node, formatDuration(0));
  } else {
    node.dataset.sinceMs = String(sinceMs);
    setText(node, formatDuration(serverNow() - sinceMs));
  }
}
