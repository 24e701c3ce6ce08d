// The agent console's live chats (issue 16, docs/protocol.md "Live chat"): a chat offered here
// (`chat_offered`, accepted or rejected like a call, the chat id as `call_id`), then every chat
// as a tab with its unread count and how long the citizen has waited for an answer; one
// composer for the chat shown, with the canned replies (常用语) of its service, the citizen's
// typing indicator and the delivered/read marks of the agent's texts; end, transfer to another
// service's queue, and the wrap-up with a disposition per chat (`wrap_up`, the chat id as
// `call_id`). Texts are drawn as text nodes, never markup (chat-log.js).
import {
  MESSAGE_MAX,
  StatusLine,
  fillSelect,
  formatClock,
  formatDuration,
  getCatalogue,
  localName,
  renderChatText,
  serviceName,
  showError,
  showNote,
  skillName,
  t,
  tOr,
} from "./common.js";
import { Conversation, TypingNotice } from "./chat-log.js";

const $ = (id) => document.getElementById(id);
const CHAT_REQUESTS = ["send_chat", "chat_typing", "chat_read", "end_chat"];

/**
 * Sets the chats up. `send(msg)` sends on the console's connection (false when it is down);
 * `onOffer(text)` announces a new offer (the console's live announcer and ringer).
 */
export function setupAgentChat({ send, onOffer }) {
  const el = {
    section: $("chats"),
    offers: $("chat-offers"),
    tabs: $("chat-tabs"),
    panel: $("chat-panel"),
    heading: $("chat-panel-heading"),
    facts: $("chat-facts"),
    log: $("chat-log"),
    typing: $("chat-typing"),
    form: $("chat-form"),
    input: $("chat-input"),
    counter: $("chat-counter"),
    error: $("chat-error"),
    send: $("chat-send"),
    canned: $("chat-canned"),
    cannedList: $("chat-canned-list"),
    end: $("chat-end"),
    voice: $("chat-voice"),
    transferService: $("chat-transfer-service"),
    transfer: $("chat-transfer"),
    wrapUp: $("chat-wrap-up"),
    disposition: $("chat-disposition"),
    notes: $("chat-notes"),
    wrapUpSave: $("chat-wrap-up-save"),
  };
  const status = new StatusLine($("chat-panel-status"));

  /** Offers ringing here: `{ id, service, waitedMs, ringMs, receivedAt, answering }`. */
  const offers = new Map();
  /**
   * The chats: `{ id, service, peer, log, unread, phase, ending, peerTyping, reason, wrap,
   * draft }`; `phase` `connected`, `ended` (wrap-up to do) — removed once wrapped up.
   */
  const chats = new Map();
  /** The chat shown. */
  let shown = null;
  const typingNotice = new TypingNotice(send);
  /** Canned replies by service id (loaded once per service). */
  const canned = new Map();

  el.offers.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-answer]");
    if (!button) return;
    const offer = offers.get(button.dataset.chat);
    if (!offer || offer.answering) return;
    offer.answering = send({ type: button.dataset.answer, call_id: offer.id });
    render();
  });
  el.tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) show(tab.dataset.chat, false);
  });
  el.tabs.addEventListener("keydown", onTabKey);
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  el.input.addEventListener("input", () => {
    const chat = current();
    if (chat) chat.draft = el.input.value;
    renderCounter();
    typing(true);
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  el.log.addEventListener("click", (event) => {
    const retry = event.target.closest("button[data-retry]");
    const chat = current();
    if (!retry || !chat) return;
    showError(el.error, null);
    chat.log.retry(retry.dataset.retry);
    chat.log.flush(chat.id, send);
    render();
  });
  el.cannedList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-reply]");
    const chat = current();
    if (!button || !chat) return;
    const reply = (canned.get(chat.service) ?? []).find((r) => r.id === button.dataset.reply);
    if (!reply) return;
    // Into the composer, to read over (and change) before sending.
    const before = el.input.value.trimEnd();
    el.input.value = before ? `${before}\n${reply.body}` : reply.body;
    chat.draft = el.input.value;
    el.canned.open = false;
    renderCounter();
    el.input.focus();
  });
  el.end.addEventListener("click", () => {
    const chat = current();
    if (!chat || chat.phase !== "connected" || chat.ending) return;
    chat.ending = send({ type: "end_chat", chat_id: chat.id });
    render();
  });
  el.voice.addEventListener("click", () => {
    // The citizen is asked; their `upgrade_chat` makes the call (`chat_upgraded`).
    const chat = current();
    if (!chat || chat.phase !== "connected" || chat.ending || chat.voice) return;
    if (send({ type: "offer_upgrade", chat_id: chat.id })) {
      status.set("connected", "chat_agent.voice_offered", { peer: chat.peer });
    }
  });
  el.transfer.addEventListener("click", () => {
    const chat = current();
    if (!chat || chat.phase !== "connected" || chat.ending || !el.transferService.value) return;
    chat.ending = send({ type: "transfer", call_id: chat.id, service: el.transferService.value });
    render();
  });
  el.wrapUp.addEventListener("submit", (event) => {
    event.preventDefault();
    const chat = current();
    if (!chat || chat.phase !== "ended") return;
    if (!el.disposition.value) {
      el.disposition.focus();
      return;
    }
    chat.wrap = { disposition: el.disposition.value, notes: el.notes.value, saving: true };
    if (!send({ type: "wrap_up", call_id: chat.id, disposition: chat.wrap.disposition, notes: chat.wrap.notes })) {
      chat.wrap.saving = false;
    }
    render();
  });
  document.addEventListener("visibilitychange", () => {
    const chat = current();
    if (chat && document.visibilityState === "visible") markRead(chat);
  });
  setInterval(renderClocks, 1000);

  function current() {
    return shown ? chats.get(shown) ?? null : null;
  }

  /** Shows a chat's tab (and moves the focus to it when `focusTab`). */
  function show(id, focusTab) {
    if (!chats.has(id)) return;
    const before = current();
    if (before && before.id !== id) {
      before.draft = el.input.value;
      typing(false);
    }
    shown = id;
    const chat = chats.get(id);
    chat.unread = 0;
    el.input.value = chat.draft ?? "";
    showError(el.error, null);
    markRead(chat);
    loadCanned(chat.service);
    render();
    if (focusTab) el.tabs.querySelector(`[data-chat="${id}"]`)?.focus();
  }

  /** Arrow keys, Home and End move between the tabs (the ARIA tabs pattern). */
  function onTabKey(event) {
    const tabs = [...el.tabs.querySelectorAll("[role=tab]")];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const tab = tabs[(to + tabs.length) % tabs.length];
    show(tab.dataset.chat, true);
  }

  async function loadCanned(service) {
    if (!service || canned.has(service)) return;
    canned.set(service, []);
    try {
      const response = await fetch(`/api/canned-replies?service=${encodeURIComponent(service)}`, {
        headers: { accept: "application/json" },
      });
      if (response.ok) canned.set(service, (await response.json()).canned_replies ?? []);
      else canned.delete(service);
    } catch {
      canned.delete(service);
    }
    render();
  }

  function submit() {
    const chat = current();
    showError(el.error, null);
    if (!chat || chat.phase !== "connected") return;
    const text = el.input.value.trim();
    if (!text) {
      showNote(el.error, "chat.empty");
      return;
    }
    if ([...text].length > MESSAGE_MAX) {
      showNote(el.error, "chat.too_long");
      return;
    }
    chat.log.queue(text);
    el.input.value = "";
    chat.draft = "";
    typing(false);
    chat.log.flush(chat.id, send);
    render();
    el.input.focus();
  }

  /** The typing notice of the chat written in (only while it takes texts). */
  function typing(now) {
    const chat = current();
    const open = chat?.phase === "connected" ? chat.id : null;
    typingNotice.set(open, now && el.input.value.trim() !== "");
  }


  /** The citizen's texts reached this console; read when the chat is shown and in view. */
  function markRead(chat) {
    const last = chat.log.lastSeq();
    if (!last || chat.phase !== "connected") return;
    const read = chat.id === shown && document.visibilityState === "visible" ? last : 0;
    send({ type: "chat_read", chat_id: chat.id, delivered_seq: last, read_seq: read });
  }

  /** Handles a server message; whether it was a chat's (`accept`/`reject` errors included). */
  function handle(msg) {
    if (msg.type === "error") return onError(msg);
    if (["offer_withdrawn", "peer_reconnecting", "peer_reconnected"].includes(msg.type)) {
      // A chat's, when they carry its id as `call_id`.
      if (msg.type === "offer_withdrawn" && offers.delete(msg.call_id)) {
        status.set("withdrawn", "status.withdrawn", { reason: () => tOr("withdraw.", msg.reason) });
      } else if (chats.has(msg.call_id)) {
        const chat = chats.get(msg.call_id);
        chat.peerLostUntil = msg.type === "peer_reconnecting" ? msg.reconnect_by_ms : null;
        if (chat.voice) {
          // A call's texts: the call (agent.js) hears it too.
          render();
          return false;
        }
      } else {
        return false;
      }
      render();
      return true;
    }
    if (!msg.type.startsWith("chat_")) return false;
    const chat = chats.get(msg.chat_id);
    switch (msg.type) {
      case "chat_offered":
        offers.set(msg.chat_id, {
          id: msg.chat_id,
          service: msg.service ?? null,
          waitedMs: msg.waited_ms,
          ringMs: msg.ring_timeout_ms,
          receivedAt: Date.now(),
          answering: false,
        });
        onOffer(t("chat_agent.offer_announce", { service: serviceName(msg.service) }));
        break;
      case "chat_connected": {
        const offer = offers.get(msg.chat_id);
        offers.delete(msg.chat_id);
        chats.set(msg.chat_id, connectedChat({
          id: msg.chat_id,
          service: offer?.service ?? chat?.service ?? null,
          peer: msg.peer_name,
          queuedAt: offer ? offer.receivedAt - offer.waitedMs : Date.now(),
          log: chat?.log ?? new Conversation("agent"),
          whispers: chat?.whispers ?? [],
        }));
        status.set("connected", "chat_agent.connected", { peer: msg.peer_name });
        // A new chat is shown when nothing else is being written.
        if (!current() || !el.input.value.trim()) show(msg.chat_id, false);
        break;
      }
      case "chat_message":
        if (!chat) break;
        if (chat.log.add(msg) && (msg.chat_id !== shown || document.visibilityState !== "visible")) chat.unread += 1;
        chat.peerTyping = false;
        markRead(chat);
        break;
      case "chat_sent":
        chat?.log.sent(msg);
        if (chat) chat.log.flush(chat.id, send);
        break;
      case "chat_typing":
        if (chat) chat.peerTyping = msg.typing;
        break;
      case "chat_whisper":
        // A staff member's text to this agent only (the citizen never gets it): shown in the
        // chat's log after the text it followed, marked as a whisper.
        if (!chat) break;
        chat.whispers.push({
          afterSeq: Math.max(0, ...chat.log.lines.map((l) => l.seq ?? 0)),
          text: msg.text,
          staff: msg.staff_name,
          at: msg.sent_at_ms,
        });
        if (msg.chat_id !== shown) chat.unread += 1;
        break;
      case "chat_marks":
        chat?.log.marks(msg);
        break;
      case "chat_upgraded":
        if (!chat) break;
        chat.voice = true;
        status.set("connected", "chat_agent.voice_on", { peer: chat.peer });
        break;
      case "chat_ended":
        if (offers.delete(msg.chat_id)) break;
        if (!chat) break;
        if (chat.voice) {
          // It ended as a call: wrapped up as a call (agent.js); the tab closes.
          chats.delete(chat.id);
          if (shown === chat.id) {
            shown = null;
            const next = chats.keys().next();
            if (!next.done) show(next.value, true);
          }
          break;
        }
        chat.phase = "ended";
        chat.ending = false;
        chat.peerTyping = false;
        chat.reason = msg.reason;
        status.set("ended", "chat_agent.ended", { peer: chat.peer, reason: () => tOr("end.", msg.reason) });
        break;
      default:
        break;
    }
    if (chat) chat.log.flush(chat.id, send);
    render();
    return true;
  }

  /** `wrap_up_saved` for a chat: its tab closes. Whether it was a chat's. */
  function wrapUpSaved(callId) {
    const chat = chats.get(callId);
    if (!chat) return false;
    chats.delete(callId);
    if (shown === callId) {
      shown = null;
      const next = chats.keys().next();
      if (!next.done) show(next.value, true);
      else el.section.querySelector("h3")?.focus();
    }
    el.notes.value = "";
    status.set("wrapped", "chat_agent.wrapped", { peer: chat.peer });
    render();
    return true;
  }

  function onError(msg) {
    const offer = [...offers.values()].find((o) => o.answering);
    if (offer && ["accept", "reject"].includes(msg.request_type)) {
      offer.answering = false;
      showError(el.error, msg);
      render();
      return true;
    }
    const chat = current();
    if (msg.request_type === "wrap_up" && chat?.wrap?.saving) {
      chat.wrap.saving = false;
      showError(el.error, msg);
      render();
      return true;
    }
    if (msg.request_type === "transfer" && chat?.ending) {
      chat.ending = false;
      showError(el.error, msg);
      render();
      return true;
    }
    if (msg.request_type === "offer_upgrade") {
      showError(el.error, msg);
      render();
      return true;
    }
    if (!CHAT_REQUESTS.includes(msg.request_type)) return false;
    if (msg.request_type === "send_chat") {
      // The text in flight is in one of the chats: the one with a text on its way.
      const sending = [...chats.values()].find((c) => c.log.lines.some((l) => l.state === "sending"));
      if (sending) {
        sending.log.failed(msg.code);
        if (msg.code !== "internal") sending.log.flush(sending.id, send);
      }
    }
    if (msg.request_type === "end_chat" && chat) chat.ending = false;
    if (["send_chat", "end_chat"].includes(msg.request_type)) showError(el.error, msg);
    render();
    return true;
  }

  /** The console's connection dropped: offers go with it; the chats wait for it. */
  function onDrop() {
    offers.clear();
    for (const chat of chats.values()) {
      chat.peerTyping = false;
      chat.log.resendInFlight();
    }
    render();
  }

  /** Whether a chat offer waits for an answer (the console rings for it as for a call). */
  function ringing() {
    return [...offers.values()].some((o) => !o.answering);
  }

  /** Whether any chat is offered, on or waiting for its wrap-up. */
  function busy() {
    return offers.size > 0 || chats.size > 0;
  }

  function renderCounter() {
    el.counter.textContent = t("message.counter", { count: [...el.input.value].length, max: MESSAGE_MAX });
  }

  /** The transfer targets: every service, with its queue. */
  function renderChoices() {
    const { services, dispositions } = getCatalogue();
    fillSelect(
      el.transferService,
      services.map((s) => ({ value: s.id, label: t("list.pair", { first: localName(s), second: skillName(s.skill_id) }) })),
    );
    fillSelect(el.disposition, dispositions.map((d) => ({ value: d.code, label: localName(d) })));
  }

  function render() {
    el.section.hidden = !busy();
    renderOffers();
    renderTabs();
    const chat = current();
    el.panel.hidden = !chat;
    if (!chat) return;
    el.panel.setAttribute("aria-labelledby", `chat-tab-${chat.id}`);
    el.heading.textContent = t("chat_agent.with", { peer: chat.peer, service: serviceName(chat.service) });
    el.form.hidden = chat.phase !== "connected";
    el.send.disabled = chat.ending;
    el.end.disabled = chat.ending;
    // A call's texts end with the call (its hang-up), and it is transferred as a call.
    el.end.hidden = Boolean(chat.voice);
    el.transfer.disabled = chat.ending || Boolean(chat.voice);
    el.voice.hidden = Boolean(chat.voice);
    el.transfer.closest(".transfer").hidden = Boolean(chat.voice);
    el.voice.disabled = chat.ending;
    el.wrapUp.hidden = chat.phase !== "ended";
    el.wrapUpSave.disabled = Boolean(chat.wrap?.saving);
    renderFacts(chat);
    el.typing.textContent = chat.peerTyping ? t("chat.peer_typing", { peer: chat.peer }) : "";
    el.typing.dataset.typing = String(chat.peerTyping);
    chat.log.render(el.log, (line) => (line.from === "agent" ? t("chat.you") : chat.peer));
    renderWhispers(chat);
    renderCanned(chat);
    renderCounter();
  }

  /** A chat's whispers, each after the text it followed, marked (the log keeps only texts). */
  function renderWhispers(chat) {
    for (const w of chat.whispers) {
      const item = document.createElement("div");
      item.className = "chat-line chat-whisper";
      item.dataset.testid = "chat-whisper";
      item.dataset.from = "whisper";
      const who = document.createElement("span");
      who.className = "chat-who";
      who.textContent = `${t("chat.whisper", { name: w.staff })} · ${formatClock(w.at)}`;
      const body = document.createElement("div");
      body.className = "chat-body";
      renderChatText(body, w.text);
      item.append(who, body);
      const before = [...el.log.querySelectorAll("[data-seq]")].find((n) => Number(n.dataset.seq) > w.afterSeq);
      el.log.insertBefore(item, before ?? null);
    }
  }

  function renderOffers() {
    const nodes = [...offers.values()].map((offer) => {
      const box = document.createElement("div");
      box.className = "chat-offer-item";
      box.dataset.testid = "chat-offer";
      box.dataset.chat = offer.id;
      const text = document.createElement("p");
      text.dataset.role = "offer-text";
      const actions = document.createElement("div");
      actions.className = "actions compact";
      for (const [answer, key, kind] of [["accept", "chat_agent.accept", "primary"], ["reject", "chat_agent.reject", ""]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = kind;
        button.dataset.answer = answer;
        button.dataset.chat = offer.id;
        button.dataset.testid = `chat-${answer}`;
        button.textContent = t(key);
        button.disabled = offer.answering;
        actions.append(button);
      }
      box.append(text, actions);
      return box;
    });
    const focused = el.offers.contains(document.activeElement);
    el.offers.replaceChildren(...nodes);
    el.offers.hidden = !nodes.length;
    if (nodes.length && !focused && offers.size === 1 && !current()) {
      el.offers.querySelector("button[data-answer=accept]")?.focus();
    }
    renderClocks();
  }

  function renderTabs() {
    const tabs = [...chats.values()].map((chat) => {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.id = `chat-tab-${chat.id}`;
      tab.dataset.chat = chat.id;
      tab.dataset.testid = "chat-tab";
      tab.dataset.phase = chat.phase;
      tab.setAttribute("aria-selected", String(chat.id === shown));
      tab.setAttribute("aria-controls", "chat-panel");
      tab.tabIndex = chat.id === shown ? 0 : -1;
      const name = document.createElement("span");
      name.textContent = chat.peer;
      // Tabs of citizens with the same name told apart by their service.
      const service = document.createElement("span");
      service.className = "chat-tab-service";
      service.textContent = serviceName(chat.service);
      const wait = document.createElement("span");
      wait.className = "chat-tab-wait";
      wait.dataset.role = "wait";
      const unread = document.createElement("span");
      unread.className = "chat-unread";
      unread.dataset.testid = "chat-unread";
      unread.hidden = !chat.unread;
      unread.textContent = String(chat.unread);
      unread.setAttribute("aria-label", t("chat_agent.unread", { count: chat.unread }));
      tab.append(name, service, wait, unread);
      return tab;
    });
    const focused = el.tabs.contains(document.activeElement) ? document.activeElement.dataset.chat : null;
    el.tabs.replaceChildren(...tabs);
    if (focused) el.tabs.querySelector(`[data-chat="${focused}"]`)?.focus();
    renderClocks();
  }

  function renderCanned(chat) {
    const replies = canned.get(chat.service) ?? [];
    el.canned.hidden = !replies.length;
    const key = JSON.stringify(replies.map((r) => r.id));
    if (el.cannedList.dataset.key === key) return;
    el.cannedList.dataset.key = key;
    el.cannedList.replaceChildren(
      ...replies.map((reply) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.dataset.reply = reply.id;
        button.textContent = reply.title;
        button.title = reply.body;
        item.append(button);
        return item;
      }),
    );
  }

  /** Under the chat's heading: why it ended, or that the citizen's connection is lost. */
  function renderFacts(chat) {
    let text = "";
    if (chat.phase === "ended") text = t("chat_agent.ended_reason", { reason: tOr("end.", chat.reason) });
    else if (chat.peerLostUntil) {
      const seconds = Math.max(0, Math.ceil((chat.peerLostUntil - Date.now()) / 1000));
      text = t("status.citizen_reconnecting", { seconds });
    }
    el.facts.hidden = !text;
    if (el.facts.textContent !== text) el.facts.textContent = text;
  }

  /** The offers' wait and countdown, and each chat's wait for an answer, every second. */
  function renderClocks() {
    const now = Date.now();
    const shownChat = current();
    if (shownChat?.peerLostUntil) renderFacts(shownChat);
    for (const box of el.offers.children) {
      const offer = offers.get(box.dataset.chat);
      if (!offer) continue;
      const elapsed = now - offer.receivedAt;
      box.querySelector("[data-role=offer-text]").textContent = t("chat_agent.offer", {
        service: serviceName(offer.service),
        waited: formatDuration(offer.waitedMs + elapsed),
        seconds: Math.max(0, Math.ceil((offer.ringMs - elapsed) / 1000)),
      });
    }
    for (const tab of el.tabs.children) {
      const chat = chats.get(tab.dataset.chat);
      const span = tab.querySelector("[data-role=wait]");
      if (!chat || !span) continue;
      const since = chat.phase === "connected" ? chat.log.waitingSince() : null;
      span.dataset.waiting = String(since != null);
      span.textContent = since != null
        ? t("chat_agent.waiting", { time: formatDuration(now - since) })
        : chat.phase === "ended" ? t("chat_agent.to_wrap_up") : "";
    }
  }

  renderChoices();
  render();
  /**
   * A voice call's text panel: a tab for the answered call `callId` (the first text either
   * side sends opens it on the server). A chat upgraded to this call keeps its tab.
   */
  /** A connected chat's state: `fields` over the defaults (one place, so every chat has every field). */
  function connectedChat(fields) {
    return {
      log: new Conversation("agent"),
      unread: 0,
      phase: "connected",
      ending: false,
      peerTyping: false,
      peerLostUntil: null,
      reason: null,
      wrap: null,
      draft: "",
      whispers: [],
      ...fields,
    };
  }

  function attachCall(callId, peer, service) {
    const chat = chats.get(callId);
    if (chat) {
      chat.voice = true;
    } else {
      chats.set(callId, connectedChat({
        id: callId,
        service: service ?? null,
        peer,
        queuedAt: Date.now(),
        voice: true,
      }));
      if (!current()) show(callId, false);
    }
    render();
  }

  /** The call ended: its text tab closes (the call is wrapped up as a call). */
  function detachCall(callId) {
    const chat = chats.get(callId);
    if (!chat?.voice) return;
    chats.delete(callId);
    if (shown === callId) {
      shown = null;
      const next = chats.keys().next();
      if (!next.done) show(next.value, false);
    }
    render();
  }

  return { handle, wrapUpSaved, onDrop, renderChoices, render, busy, ringing, attachCall, detachCall };
}
