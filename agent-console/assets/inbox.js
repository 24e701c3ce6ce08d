// The staff console's inbox of online messages and its follow-up list of low ratings (issue 6),
// over the HTTP API (`/api/inbox…`, `/api/follow-ups…`): filter by state and overdue, open a
// message (its text, or its voice played from `/api/inbox/{id}/voice`), assign it to oneself,
// reply, close; mark a low rating handled with a note.
import {
  formatDate,
  formatDuration,
  ratingName,
  renderText,
  serviceName,
  t,
  tOr,
} from "./common.js";
import { announce } from "./console-care.js";

const $ = (id) => document.getElementById(id);
/** How often the lists are fetched again while the console is open. */
const REFRESH_MS = 30_000;

/**
 * Wires the inbox and follow-up sections. `onUnauthorized()` is called on a 401 (the session
 * ended). Returns `{ start, stop, render }`: `start()` after sign-in loads both lists and
 * refreshes them every 30 s, `stop()` at sign-out forgets everything, `render()` after a
 * language switch.
 */
export function setupInbox({ onUnauthorized }) {
  const el = {
    state: $("inbox-state"),
    overdue: $("inbox-overdue"),
    refresh: $("inbox-refresh"),
    count: $("inbox-count"),
    error: $("inbox-error"),
    rows: $("inbox-table").tBodies[0],
    detail: $("inbox-detail"),
    heading: $("inbox-detail-heading"),
    dState: $("detail-state"),
    dService: $("detail-service"),
    dName: $("detail-name"),
    dPhone: $("detail-phone"),
    dReceived: $("detail-received"),
    dDue: $("detail-due"),
    dAssignee: $("detail-assignee"),
    dReason: $("detail-reason"),
    dBody: $("detail-body"),
    dVoice: $("detail-voice"),
    dReplied: $("detail-replied"),
    assign: $("inbox-assign"),
    close: $("inbox-close"),
    hide: $("inbox-hide"),
    replyForm: $("reply-form"),
    reply: $("inbox-reply"),
    sendReply: $("inbox-send-reply"),
    dStatus: $("detail-status"),
    dError: $("detail-error"),
    fError: $("followups-error"),
    fStatus: $("followups-status"),
    fRows: $("followups-table").tBodies[0],
    announcer: $("staff-announcer"),
  };
  const state = {
    active: false,
    messages: [],
    followUps: [],
    /** The open message's id. */
    openId: null,
    seq: 0,
    timer: null,
    busy: false,
    /** Notes typed in the follow-up rows, kept across re-renders. */
    notes: new Map(),
    /** The last status/error texts as string keys, for a language switch. */
    detailNote: null,
    followNote: null,
    /** Messages seen before their due time, to announce the moment one becomes overdue. */
    seenInTime: new Set(),
  };

  el.state.addEventListener("change", load);
  el.overdue.addEventListener("change", load);
  el.refresh.addEventListener("click", () => {
    load();
    loadFollowUps();
  });
  el.rows.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-open]");
    if (button) open(button.dataset.open);
  });
  el.assign.addEventListener("click", () => act("assign"));
  el.close.addEventListener("click", () => act("close"));
  el.hide.addEventListener("click", () => {
    const id = state.openId;
    state.openId = null;
    render();
    el.rows.querySelector(`button[data-open="${CSS.escape(id ?? "")}"]`)?.focus();
  });
  el.replyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const reply = el.reply.value.trim();
    if (!reply) {
      showNote(el.dError, "inbox.reply_empty");
      el.reply.focus();
      return;
    }
    act("reply", { reply });
  });
  el.fRows.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-handle]");
    if (button) markHandled(button.dataset.handle);
  });
  el.fRows.addEventListener("input", (event) => {
    if (event.target.dataset.note) state.notes.set(event.target.dataset.note, event.target.value);
  });

  async function request(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (response.status === 401) {
      onUnauthorized();
      throw Object.assign(new Error("unauthorized"), { quiet: true });
    }
    const json = await response.json().catch(() => null);
    return { status: response.status, ok: response.ok, json };
  }

  async function load() {
    if (!state.active) return;
    const seq = ++state.seq;
    const params = new URLSearchParams({ limit: "100" });
    if (el.state.value) params.set("state", el.state.value);
    if (el.overdue.checked) params.set("overdue", "true");
    let answer;
    try {
      answer = await request("GET", `/api/inbox?${params}`);
    } catch (error) {
      if (seq === state.seq && !error.quiet) showNote(el.error, "login.unreachable");
      return;
    }
    if (seq !== state.seq || !state.active) return;
    if (!answer.ok || !Array.isArray(answer.json?.messages)) {
      showNote(el.error, "inbox.unavailable", { status: answer.status });
      return;
    }
    showNote(el.error, null);
    state.messages = answer.json.messages;
    announceOverdue();
    render();
  }

  async function loadFollowUps() {
    if (!state.active) return;
    let answer;
    try {
      answer = await request("GET", "/api/follow-ups?open=true");
    } catch (error) {
      if (!error.quiet) showNote(el.fError, "login.unreachable");
      return;
    }
    if (!state.active) return;
    if (!answer.ok || !Array.isArray(answer.json?.follow_ups)) {
      showNote(el.fError, "followups.unavailable", { status: answer.status });
      return;
    }
    showNote(el.fError, null);
    state.followUps = answer.json.follow_ups.filter((f) => f.state !== "handled");
    renderFollowUps();
  }

  /** Politely announces messages that were seen in time and are now overdue. */
  function announceOverdue() {
    const late = [];
    for (const m of state.messages) {
      if (!m.overdue) state.seenInTime.add(m.id);
      else if (state.seenInTime.delete(m.id)) late.push(m);
    }
    if (!late.length || !el.announcer) return;
    announce(
      el.announcer,
      late.length === 1
        ? t("announce.overdue", { ticket: late[0].ticket })
        : t("announce.overdue_many", { count: late.length }),
    );
  }

  function open(id) {
    state.openId = id;
    el.reply.value = "";
    showNote(el.dError, null);
    state.detailNote = null;
    render();
    el.heading.focus();
    el.detail.scrollIntoView({ block: "nearest" });
  }

  /** `assign`, `reply` or `close` on the open message. */
  async function act(action, body) {
    const id = state.openId;
    if (!id || state.busy) return;
    state.busy = true;
    render();
    showNote(el.dError, null);
    let answer;
    try {
      answer = await request("POST", `/api/inbox/${encodeURIComponent(id)}/${action}`, body ?? {});
    } catch (error) {
      state.busy = false;
      render();
      if (!error.quiet) showNote(el.dError, "login.unreachable");
      return;
    }
    state.busy = false;
    if (!answer.ok) {
      render();
      showNote(el.dError, "inbox.action_failed", {
        status: answer.status,
        message: answer.json?.message ?? answer.json?.code ?? "",
      });
      return;
    }
    if (answer.json?.message) {
      state.messages = state.messages.map((m) => (m.id === id ? { ...m, ...answer.json.message } : m));
    }
    if (action === "reply") el.reply.value = "";
    state.detailNote = `inbox.done.${action}`;
    render();
    load();
  }

  async function markHandled(key) {
    const item = state.followUps.find((f) => followKey(f) === key);
    if (!item) return;
    const note = (state.notes.get(key) ?? "").trim();
    let answer;
    try {
      answer = await request(
        "POST",
        `/api/follow-ups/${encodeURIComponent(item.subject_kind)}/${encodeURIComponent(item.subject_id)}/handled`,
        { note },
      );
    } catch (error) {
      if (!error.quiet) showNote(el.fError, "login.unreachable");
      return;
    }
    if (!answer.ok) {
      showNote(el.fError, "inbox.action_failed", {
        status: answer.status,
        message: answer.json?.message ?? answer.json?.code ?? "",
      });
      return;
    }
    showNote(el.fError, null);
    state.notes.delete(key);
    state.followUps = state.followUps.filter((f) => followKey(f) !== key);
    state.followNote = "followups.done";
    renderFollowUps();
    el.fRows.querySelector("input, button")?.focus();
    loadFollowUps();
  }

  function render() {
    for (const node of [el.error, el.dError, el.fError]) {
      if (node.dataset.key) node.textContent = t(node.dataset.key, JSON.parse(node.dataset.params || "{}"));
    }
    renderList();
    renderDetail();
    renderFollowUps();
  }

  function renderList() {
    const messages = state.messages;
    el.count.textContent = state.active
      ? t("inbox.count", { count: messages.length, overdue: messages.filter((m) => m.overdue).length })
      : "";
    const rows = messages.map((m) => {
      const tr = document.createElement("tr");
      tr.dataset.id = m.id;
      tr.dataset.state = m.state;
      if (m.overdue) tr.classList.add("overdue");
      if (m.id === state.openId) tr.classList.add("selected");
      const ticket = document.createElement("th");
      ticket.scope = "row";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link ticket-link";
      button.dataset.open = m.id;
      button.textContent = m.ticket;
      button.setAttribute("aria-label", t("inbox.open", { ticket: m.ticket }));
      ticket.append(button);
      const due = document.createElement("td");
      const dueText = document.createElement("span");
      dueText.textContent = formatDate(m.due_at_ms);
      due.append(dueText);
      if (m.overdue) {
        const badge = document.createElement("span");
        badge.className = "badge overdue-badge";
        badge.textContent = t("inbox.overdue");
        due.append(" ", badge);
      }
      tr.append(
        ticket,
        cell(serviceName(m.service)),
        cell(t(`kind.${m.kind}`)),
        cell(formatDate(m.created_at_ms)),
        due,
        cell(tOr("ticket_state.", m.state)),
        cell(m.assigned_name || t("inbox.unassigned")),
      );
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty-row";
      const td = cell(t("inbox.empty"));
      td.colSpan = 7;
      tr.append(td);
      rows.push(tr);
    }
    const focusedId = document.activeElement?.dataset?.open;
    el.rows.replaceChildren(...rows);
    if (focusedId) el.rows.querySelector(`button[data-open="${CSS.escape(focusedId)}"]`)?.focus();
  }

  function renderDetail() {
    const m = state.messages.find((x) => x.id === state.openId);
    el.detail.hidden = !m;
    if (!m) {
      if (el.dVoice.getAttribute("src")) {
        el.dVoice.pause();
        el.dVoice.removeAttribute("src");
      }
      return;
    }
    el.detail.dataset.state = m.state;
    el.detail.classList.toggle("overdue", !!m.overdue);
    el.heading.textContent = t("ticket.heading", { ticket: m.ticket });
    el.dState.textContent = m.overdue
      ? t("inbox.state_overdue", { state: tOr("ticket_state.", m.state) })
      : tOr("ticket_state.", m.state);
    el.dService.textContent = serviceName(m.service);
    el.dName.textContent = m.name || t("inbox.not_given");
    el.dPhone.textContent = m.phone || t("inbox.not_given");
    el.dReceived.textContent = formatDate(m.created_at_ms);
    el.dDue.textContent = formatDate(m.due_at_ms);
    el.dAssignee.textContent = m.assigned_name || t("inbox.unassigned");
    el.dReason.textContent = m.reason ? tOr("msg_reason.", m.reason) : "—";
    if (m.kind === "voice") {
      el.dBody.textContent = t("inbox.voice", { duration: formatDuration(m.voice_ms ?? 0) });
      const src = `/api/inbox/${encodeURIComponent(m.id)}/voice`;
      if (el.dVoice.getAttribute("src") !== src) el.dVoice.setAttribute("src", src);
      el.dVoice.setAttribute("aria-label", t("inbox.voice_player", { ticket: m.ticket }));
      el.dVoice.hidden = false;
    } else {
      renderText(el.dBody, m.body ?? "");
      el.dVoice.hidden = true;
      if (el.dVoice.getAttribute("src")) {
        el.dVoice.pause();
        el.dVoice.removeAttribute("src");
      }
    }
    if (m.reply) {
      const head = document.createElement("p");
      head.className = "muted";
      head.textContent = t("inbox.replied", {
        who: m.replied_by_name || m.assigned_name || "—",
        when: m.replied_at_ms ? formatDate(m.replied_at_ms) : "—",
      });
      const text = document.createElement("div");
      renderText(text, m.reply);
      el.dReplied.replaceChildren(head, text);
      el.dReplied.hidden = false;
    } else {
      el.dReplied.hidden = true;
    }
    const finished = m.state === "answered" || m.state === "closed";
    el.assign.disabled = state.busy || finished || m.assigned_to === currentUserId();
    el.assign.hidden = finished;
    el.close.disabled = state.busy || m.state === "closed";
    el.close.hidden = m.state === "closed";
    el.replyForm.hidden = m.state === "closed";
    el.sendReply.disabled = state.busy;
    el.dStatus.textContent = state.detailNote ? t(state.detailNote) : "";
  }

  function renderFollowUps() {
    el.fStatus.textContent = state.followNote ? t(state.followNote) : "";
    const rows = state.followUps.map((f) => {
      const key = followKey(f);
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      tr.dataset.level = String(f.level);
      const subject = document.createElement("th");
      subject.scope = "row";
      subject.textContent = subjectText(f);
      const level = cell(t("followups.level_value", { name: ratingName(f.level), level: f.level }));
      level.className = "low-rating";
      const action = document.createElement("td");
      const box = document.createElement("div");
      box.className = "row-actions note-row";
      const input = document.createElement("input");
      input.type = "text";
      input.maxLength = 500;
      input.dataset.note = key;
      input.value = state.notes.get(key) ?? "";
      input.placeholder = t("followups.note_placeholder");
      input.setAttribute("aria-label", t("followups.note", { subject: subjectText(f) }));
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.handle = key;
      button.textContent = t("followups.mark");
      box.append(input, button);
      action.append(box);
      tr.append(subject, level, cell(f.comment || t("followups.no_comment")), cell(formatDate(f.created_at_ms)), action);
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty-row";
      const td = cell(t("followups.empty"));
      td.colSpan = 5;
      tr.append(td);
      rows.push(tr);
    }
    const focused = document.activeElement?.dataset?.note;
    el.fRows.replaceChildren(...rows);
    if (focused) el.fRows.querySelector(`input[data-note="${CSS.escape(focused)}"]`)?.focus();
  }

  let me = null;
  function currentUserId() {
    return me?.id ?? null;
  }

  return {
    start(user) {
      me = user;
      if (state.active) return;
      state.active = true;
      load();
      loadFollowUps();
      state.timer = setInterval(() => {
        load();
        loadFollowUps();
      }, REFRESH_MS);
    },
    stop() {
      clearInterval(state.timer);
      Object.assign(state, { active: false, messages: [], followUps: [], openId: null, timer: null, detailNote: null, followNote: null });
      state.seenInTime.clear();
      state.seq++;
      state.notes.clear();
      me = null;
      for (const node of [el.error, el.dError, el.fError]) showNote(node, null);
      render();
    },
    render,
  };
}

function followKey(f) {
  return `${f.subject_kind}/${f.subject_id}`;
}

function subjectText(f) {
  const id = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(f.subject_id) ? f.subject_id.slice(0, 8) : f.subject_id;
  return t(`followups.kind.${f.subject_kind}`, { id });
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

/** A message by string key in an alert element (re-rendered on a language switch), or none. */
function showNote(element, key, params = {}) {
  if (!key) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.key;
    return;
  }
  element.dataset.key = key;
  element.dataset.params = JSON.stringify(params);
  element.textContent = t(key, params);
  element.hidden = false;
}
