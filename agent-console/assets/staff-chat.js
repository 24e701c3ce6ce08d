// Staff on live chats (issue 16): the list of live chats (from the wallboard), one opened
// read-only with the whole conversation so far and new texts live, a whisper box (to the agent
// only), "take over" (the staff member becomes the chat's agent and replies in the same box),
// and "close" (leaving the view ends the monitoring). Every action is audited by the server
// before it takes effect; the page only shows what the server said happened.
import { formatClock, renderChatText, serviceName, showError, t } from "./common.js";

/** The requests of this module (their errors are shown in the chat panel). */
export const CHAT_REQUESTS = new Set([
  "watch_chat",
  "whisper_chat",
  "take_over_chat",
  "unwatch_chat",
  "send_chat",
  "end_chat",
]);

export function setupStaffChats(send) {
  const $ = (id) => document.getElementById(id);
  const el = {
    table: $("chats-table"),
    empty: $("chats-empty"),
    panel: $("chat-view"),
    heading: $("chat-view-heading"),
    state: $("chat-view-state"),
    log: $("chat-view-log"),
    form: $("chat-view-form"),
    label: $("chat-view-label"),
    text: $("chat-view-text"),
    submit: $("chat-view-submit"),
    takeOver: $("chat-view-take-over"),
    close: $("chat-view-close"),
    error: $("chat-view-error"),
  };
  /** The chat open here: `{ id, agentName, lines: Map(seq → line), whispers, owned, ended }`. */
  let open = null;
  let rows = [];

  el.table.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-chat]");
    if (!button) return;
    if (open && !open.ended) send({ type: "unwatch_chat", chat_id: open.id });
    send({ type: "watch_chat", chat_id: button.dataset.chat });
  });
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.text.value.trim();
    if (!open || open.ended || !text) return;
    const clientId = crypto.randomUUID();
    const msg = open.owned
      ? { type: "send_chat", chat_id: open.id, client_id: clientId, text }
      : { type: "whisper_chat", chat_id: open.id, text };
    if (open.owned) open.outgoing.set(clientId, text);
    if (send(msg)) el.text.value = "";
  });
  el.takeOver.addEventListener("click", () => {
    if (open && !open.owned && !open.ended) send({ type: "take_over_chat", chat_id: open.id });
  });
  el.close.addEventListener("click", () => {
    if (!open) return;
    if (open.ended) {
      open = null;
    } else if (open.owned) {
      send({ type: "end_chat", chat_id: open.id });
    } else {
      send({ type: "unwatch_chat", chat_id: open.id });
    }
    render();
  });

  /** Handles a server message about chats; returns whether it was one. */
  function onMessage(msg) {
    switch (msg.type) {
      case "chat_watching":
        open = { id: msg.chat_id, agentName: msg.agent_name, lines: new Map(), whispers: [], owned: false, ended: null, outgoing: new Map() };
        for (const line of msg.messages) open.lines.set(line.seq, line);
        el.error.hidden = true;
        break;
      case "chat_message":
        if (open?.id === msg.chat_id) open.lines.set(msg.seq, msg);
        break;
      case "chat_whisper":
        if (open?.id === msg.chat_id) open.whispers.push(msg);
        break;
      case "chat_connected":
        if (open?.id === msg.chat_id) open.owned = true;
        break;
      case "chat_sent": {
        // This staff member's own reply, committed as `seq` (the relay goes to the citizen).
        const text = open?.id === msg.chat_id ? open.outgoing.get(msg.client_id) : undefined;
        if (text !== undefined) open.lines.set(msg.seq, { seq: msg.seq, from: "agent", text, sent_at_ms: msg.sent_at_ms });
        break;
      }
      case "chat_ended":
        if (open?.id === msg.chat_id) {
          if (msg.reason === "staff_hang_up" && !open.owned) open = null;
          else open.ended = msg.reason;
        }
        break;
      default:
        return false;
    }
    render();
    return true;
  }

  function onError(msg) {
    showError(el.error, msg);
  }

  function setBoard(board) {
    rows = board?.chats ?? [];
    render();
  }

  function render() {
    renderRows();
    el.panel.hidden = !open;
    el.panel.dataset.state = !open ? "closed" : open.ended ? "ended" : open.owned ? "owned" : "watching";
    if (!open) return;
    el.heading.textContent = t("chats.view_title", { id: open.id.slice(0, 8) });
    el.state.textContent = open.ended
      ? t("chats.state_ended")
      : open.owned
        ? t("chats.state_owned")
        : t("chats.state_watching", { agent: open.agentName || t("chats.nobody") });
    el.label.textContent = t(open.owned ? "chats.reply_label" : "chats.whisper_label");
    el.submit.textContent = t(open.owned ? "chats.reply_send" : "chats.whisper_send");
    el.text.disabled = el.submit.disabled = Boolean(open.ended);
    el.takeOver.hidden = open.owned || Boolean(open.ended);
    el.close.textContent = t(open.ended ? "chats.dismiss" : open.owned ? "chats.end" : "chats.close");
    renderLog();
  }

  function renderLog() {
    const entries = [
      ...[...open.lines.values()].map((l) => ({ at: l.sent_at_ms, kind: l.from, text: l.text })),
      ...open.whispers.map((w) => ({ at: w.sent_at_ms, kind: "whisper", text: w.text, who: w.staff_name })),
    ].sort((a, b) => a.at - b.at);
    el.log.replaceChildren(
      ...entries.map((e) => {
        const li = document.createElement("li");
        li.className = `chat-line from-${e.kind}`;
        li.dataset.from = e.kind;
        const who = document.createElement("span");
        who.className = "chat-who";
        const name = e.kind === "whisper" ? t("chats.whisper_from", { name: e.who }) : t(`chats.from_${e.kind}`);
        who.textContent = `${name} · ${formatClock(e.at)}`;
        const body = document.createElement("div");
        body.className = "chat-text";
        renderChatText(body, e.text);
        li.append(who, body);
        return li;
      }),
    );
  }

  let drawn = null;

  function renderRows() {
    // Redrawn only when something shown changed: a wallboard push every few seconds must not
    // take the keyboard focus off an "open" button.
    const signature = JSON.stringify([rows, open?.id ?? null, document.documentElement.lang]);
    if (signature === drawn) return;
    drawn = signature;
    const body = el.table.tBodies[0];
    el.empty.hidden = rows.length > 0;
    body.replaceChildren(
      ...rows.map((c) => {
        const tr = document.createElement("tr");
        tr.dataset.chat = c.chat_id;
        const cells = [
          serviceName(c.service ?? c.skill),
          c.answered ? t("chats.answered") : t("chats.waiting"),
          c.agent_name ?? "—",
          formatClock(c.queued_at_ms),
          c.watchers?.length ? c.watchers.join(", ") : "—",
        ].map((text) => {
          const td = document.createElement("td");
          td.textContent = text;
          return td;
        });
        const action = document.createElement("td");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.chat = c.chat_id;
        button.dataset.testid = "chat-open";
        button.textContent = t("chats.open");
        button.setAttribute("aria-label", t("chats.open_label", { service: cells[0].textContent }));
        button.disabled = c.taken_over || open?.id === c.chat_id;
        action.append(button);
        tr.append(...cells, action);
        return tr;
      }),
    );
  }

  return { onMessage, onError, setBoard, render, get open() { return open; } };
}
