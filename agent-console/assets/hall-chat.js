// The hall's live text chat with an agent (issue 16, docs/protocol.md "Live chat"): start a chat
// about a service (from the call card, a service in any area, or the assistant's answer with its
// transcript), the position and estimated wait like a call, then the conversation: texts in
// order (and, once answered, a switch to a voice call with the same agent — hall.js makes the
// call, `upgrade_chat`; the texts go on beside it),
// order, the agent's typing indicator, delivered/read marks on the citizen's own texts, links
// clickable and materials lists as lists (DOM text nodes only, never markup). A reload or a
// dropped connection takes the chat back (`rejoin_chat` with the last seq; the conversation and
// the unsent texts are kept in sessionStorage like the call's resume data). At the end: the
// transcript to keep or print, and the rating (hall.js). Turned away: the call's fallbacks with
// what was typed carried over.
import { MESSAGE_MAX, StatusLine, hasKey, serviceName, showError, showNote, t, tOr } from "./common.js";
import { Conversation, TypingNotice } from "./chat-log.js";

/** The chat kept across a reload. */
const STORE_KEY = "voicedesk.chat";
/** Why a chat can be turned away at once: the same fallbacks as a call. */
const TURNED_AWAY = ["closed", "queue_full", "no_agents"];
const CHAT_REQUESTS = ["start_chat", "send_chat", "chat_typing", "chat_read", "end_chat", "rejoin_chat"];

const $ = (id) => document.getElementById(id);

/**
 * Sets the chat up. `signaling` is the page's connection; `onChange()` runs when the chat starts
 * or ends (the call buttons follow); `onTurnedAway(reason, typed)` brings the other ways to get
 * help forward with what the citizen had typed; `onAnswered(chatId)` after a chat an agent
 * answered has ended (the rating); `onUpgrade(chatId)` when the citizen asks to go on by voice.
 */
export function setupChat({ signaling, onChange, onTurnedAway, onAnswered, onUpgrade }) {
  const el = {
    section: $("chat"),
    heading: $("chat-heading"),
    log: $("chat-log"),
    typing: $("chat-typing"),
    form: $("chat-form"),
    input: $("chat-input"),
    counter: $("chat-counter"),
    error: $("chat-error"),
    send: $("chat-send"),
    end: $("chat-end"),
    voice: $("chat-voice"),
    after: $("chat-after"),
  };
  const status = new StatusLine($("chat-status"));

  /**
   * `phase`: `idle`, `starting` (start_chat sent), `queued`, `connected`, `ended`. `log`: the
   * conversation (chat-log.js). `rejoining` while the chat waits to be taken back after a
   * reload or a lost connection.
   */
  let chat = blank();
  const typingNotice = new TypingNotice((msg) => signaling.send(msg));
  let peerTyping = false;

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  el.input.addEventListener("input", () => {
    renderCounter();
    typing(true);
  });
  el.input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line (an IME's Enter composes, it does not send).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  el.end.addEventListener("click", end);
  el.voice.addEventListener("click", () => {
    if (chat.phase === "connected" && !chat.voice) onUpgrade(chat.id);
  });
  el.log.addEventListener("click", (event) => {
    const retry = event.target.closest("button[data-retry]");
    if (retry) {
      showError(el.error, null);
      chat.log.retry(retry.dataset.retry);
      flush();
      render();
    }
  });
  $("chat-save").addEventListener("click", saveTranscript);
  $("chat-print").addEventListener("click", () => window.print());
  $("chat-close").addEventListener("click", () => {
    chat = blank();
    status.key = null;
    status.element.textContent = "";
    render();
    onChange();
  });
  document.addEventListener("visibilitychange", markRead);

  const stored = load();
  if (stored) {
    chat = { ...blank(), ...stored, log: new Conversation("citizen", stored.lines), rejoining: true };
    status.set("rejoining", "chat.rejoining");
  }
  render();

  function blank() {
    return { phase: "idle", id: null, service: null, peerName: null, log: new Conversation("citizen"), rejoining: false, answered: false };
  }

  function active() {
    return ["starting", "queued", "connected"].includes(chat.phase);
  }

  /** Starts a chat about `service`; `transcript` (the assistant conversation) is its first text. */
  function start(service, transcript = "") {
    if (active()) return;
    chat = { ...blank(), phase: "starting", service };
    if (transcript) chat.log.queue(transcript);
    if (!signaling.send({ type: "start_chat", ...(service ? { service } : {}) })) {
      chat = blank();
      render();
      status.set("offline", "status.offline");
      el.section.hidden = false;
      return;
    }
    status.set("starting", "chat.starting");
    render();
    onChange();
    el.heading.focus({ preventScroll: true });
    el.section.scrollIntoView({ block: "nearest" });
  }

  function end() {
    if (chat.id && (chat.phase === "queued" || chat.phase === "connected")) {
      typing(false);
      signaling.send({ type: "end_chat", chat_id: chat.id });
      status.set("ending", "chat.ending");
    }
  }

  /** The citizen's text: checked here first (blank, too long), then queued and sent in order. */
  function submit() {
    showError(el.error, null);
    const text = el.input.value.trim();
    if (!text) {
      showNote(el.error, "chat.empty");
      return;
    }
    if ([...text].length > MESSAGE_MAX) {
      showNote(el.error, "chat.too_long");
      return;
    }
    if (!active()) return;
    chat.log.queue(text);
    save();
    el.input.value = "";
    renderCounter();
    typing(false);
    flush();
    render();
    el.input.focus();
  }

  /**
   * The waiting texts go one at a time (chat-log.js), from `chat_queued` on: the agent who
   * answers gets what was written while waiting.
   */
  function flush() {
    if (["queued", "connected"].includes(chat.phase) && !chat.rejoining) {
      chat.log.flush(chat.id, (msg) => signaling.send(msg));
    }
  }

  /** The typing notice of the chat written in (only while it takes texts). */
  function typing(now) {
    const open = chat.phase === "connected" ? chat.id : null;
    typingNotice.set(open, now && el.input.value.trim() !== "");
  }


  /** Tells the agent what reached this page and, when it is in view, what was read. */
  function markRead() {
    if (!chat.id || !["connected", "queued"].includes(chat.phase)) return;
    const last = chat.log.lastSeq();
    if (!last) return;
    const read = document.visibilityState === "visible" ? last : 0;
    signaling.send({ type: "chat_read", chat_id: chat.id, delivered_seq: last, read_seq: read });
  }

  /** Handles a server message; whether it was the chat's. */
  function handle(msg) {
    if (["call_transferred", "wait_limit_reached"].includes(msg.type)) {
      // The chat's own, when they carry its id as `call_id`.
      if (!chat.id || msg.call_id !== chat.id) return false;
      if (msg.type === "call_transferred") {
        chat.phase = "queued";
        peerTyping = false;
        status.set("queued", "chat.transferred", { service: () => serviceName(msg.service) });
        onChange();
      } else {
        status.set("queued", "chat.wait_limit");
      }
      save();
      render();
      return true;
    }
    if (msg.type === "upgrade_offered") {
      if (msg.chat_id !== chat.id || chat.phase !== "connected" || chat.voice) return true;
      status.set("connected", "chat.upgrade_offered", { peer: chat.peerName ?? "" });
      render();
      el.voice.focus({ preventScroll: true });
      return true;
    }
    if (!msg.type.startsWith("chat_")) return false;
    if (msg.chat_id !== chat.id && !(msg.type === "chat_queued" && chat.phase === "starting") &&
        !(msg.type === "chat_ended" && chat.phase === "starting" && !chat.id)) {
      return true;
    }
    switch (msg.type) {
      case "chat_queued":
        chat.id = msg.chat_id;
        chat.phase = "queued";
        status.set("queued", "chat.queued");
        break;
      case "chat_position": {
        const minutes = msg.estimated_wait_ms != null ? Math.max(1, Math.round(msg.estimated_wait_ms / 60000)) : null;
        const params = { position: msg.position, ahead: msg.position - 1, minutes };
        const key = msg.estimated_wait_ms == null
          ? "chat.position_no_agent"
          : msg.position === 1 ? "chat.next_eta" : "chat.position_eta";
        status.set("queued", key, params);
        status.element.dataset.position = String(msg.position);
        break;
      }
      case "chat_connected":
        connected(msg.peer_name);
        el.input.focus({ preventScroll: true });
        break;
      case "chat_rejoined":
        chat.rejoining = false;
        for (const line of msg.messages) chat.log.add(line);
        // The texts that were on their way go again with their client ids: stored once.
        chat.log.resendInFlight();
        if (chat.phase === "connected") status.set("connected", "chat.connected", { peer: chat.peerName ?? "" });
        else status.set("queued", "chat.queued");
        markRead();
        break;
      case "chat_message":
        chat.log.add(msg);
        peerTyping = false;
        markRead();
        break;
      case "chat_sent":
        chat.log.sent(msg);
        break;
      case "chat_typing":
        peerTyping = msg.typing;
        break;
      case "chat_marks":
        chat.log.marks(msg);
        break;
      case "chat_ended":
        // A call's texts may have ended with the call already (`detachCall`).
        if (chat.phase !== "ended") ended(msg.reason);
        break;
      default:
        return true;
    }
    save();
    flush();
    render();
    return true;
  }

  function connected(peerName) {
    chat.phase = "connected";
    chat.answered = true;
    chat.peerName = peerName;
    delete status.element.dataset.position;
    status.set("connected", "chat.connected", { peer: peerName });
    onChange();
  }

  function ended(reason) {
    const { id, answered } = chat;
    // Unanswered, everything the citizen wrote is for the message form; answered, what never went.
    const written = answered ? chat.log.unsent() : chat.log.mine();
    const typed = [...written, el.input.value.trim()].filter(Boolean).join("\n\n");
    chat.phase = "ended";
    peerTyping = false;
    typingNotice.set(null, false);
    delete status.element.dataset.position;
    status.set("ended", "chat.ended", {
      reason: () => (hasKey(`chat_end.${reason}`) ? t(`chat_end.${reason}`) : hasKey(`hall_end.${reason}`) ? t(`hall_end.${reason}`) : tOr("end.", reason)),
    });
    forget();
    onChange();
    if (TURNED_AWAY.includes(reason) || (!answered && !["citizen_hang_up", "abandoned", "message_left"].includes(reason))) {
      // Nobody could answer: what was typed goes to the message form.
      el.input.value = "";
      onTurnedAway(TURNED_AWAY.includes(reason) ? reason : null, typed);
    } else if (answered && id) {
      onAnswered(id);
    }
  }

  /** Errors of the chat's requests; whether it was one. */
  function onError(msg) {
    if (msg.code === "session_expired" && !msg.request_type && chat.id && msg.message?.includes(chat.id)) {
      // The chat went on in another window of this citizen: this page hears no more of it.
      chat.phase = "ended";
      chat.rejoining = false;
      status.set("ended", "chat.moved");
      onChange();
      render();
      return true;
    }
    if (!CHAT_REQUESTS.includes(msg.request_type)) return false;
    switch (msg.request_type) {
      case "start_chat":
        if (chat.phase === "starting") {
          const typed = chat.log.unsent().join("\n\n");
          chat = blank();
          forget();
          onChange();
          status.set("failed", "chat.start_failed");
          render();
          showError(el.error, msg);
          // The other ways to get help, with anything already written for the agent.
          onTurnedAway(null, typed);
          return true;
        }
        break;
      case "send_chat": {
        chat.log.failed(msg.code);
        showError(el.error, msg);
        if (msg.code === "rate_limited") showNote(el.error, "chat.too_fast");
        save();
        // A refused text stays on the page with "Send again"; the next one goes.
        if (msg.code !== "internal") flush();
        break;
      }
      case "rejoin_chat":
        // The chat is over or no longer ours: what we had stays readable, nothing more comes.
        chat.rejoining = false;
        chat.phase = "ended";
        forget();
        status.set("ended", "chat.rejoin_failed");
        onChange();
        break;
      case "end_chat":
        showError(el.error, msg);
        break;
      default:
        // Typing and read marks are best effort.
        break;
    }
    render();
    return true;
  }

  /** The connection is back under the same citizen (`resumed`): take the chat back. */
  function onResumed() {
    if (!chat.id || !chat.rejoining) return;
    signaling.send({ type: "rejoin_chat", chat_id: chat.id, after_seq: chat.log.lastSeq() });
  }

  /** This connection is a new citizen (the old one is gone): the stored chat cannot come back. */
  function onResumeFailed() {
    if (!chat.rejoining) return;
    chat.rejoining = false;
    chat.phase = "ended";
    forget();
    status.set("ended", "chat.rejoin_failed");
    render();
    onChange();
  }

  /** The connection dropped: the chat waits for it (the server keeps it for its grace). */
  function onDrop() {
    if (!chat.id || !["queued", "connected"].includes(chat.phase)) {
      if (chat.phase === "starting") {
        chat = blank();
        render();
        onChange();
      }
      return;
    }
    chat.rejoining = true;
    peerTyping = false;
    status.set("reconnecting", "chat.reconnecting");
    render();
  }

  function renderCounter() {
    el.counter.textContent = t("message.counter", { count: [...el.input.value].length, max: MESSAGE_MAX });
  }

  function render() {
    el.section.hidden = chat.phase === "idle" && !status.key;
    el.section.dataset.state = chat.phase;
    // The page's layout follows the chat as it follows a call (hall.css).
    document.body.dataset.chatPhase = chat.phase;
    el.form.hidden = !active();
    el.after.hidden = !(chat.phase === "ended" && chat.answered && chat.log.lastSeq());
    el.send.disabled = !["queued", "connected", "starting"].includes(chat.phase);
    el.end.disabled = !chat.id || !["queued", "connected"].includes(chat.phase);
    el.voice.hidden = !(chat.phase === "connected" && !chat.voice);
    // A call's texts end with the call (its hang-up button).
    el.end.hidden = Boolean(chat.voice);
    el.typing.textContent = peerTyping && chat.phase === "connected" ? t("chat.peer_typing", { peer: chat.peerName ?? "" }) : "";
    el.typing.dataset.typing = String(peerTyping && chat.phase === "connected");
    renderCounter();
    renderLog();
  }

  function who(line) {
    return line.from === "citizen" ? t("chat.you") : chat.peerName || t("chat.agent");
  }

  function renderLog() {
    chat.log.render(el.log, who);
  }

  /** The conversation as plain text, to keep. */
  function transcriptText() {
    const head = [t("chat.transcript_title"), chat.service ? serviceName(chat.service) : "", "", ""];
    return head.join("\n") + chat.log.text(who);
  }

  function saveTranscript() {
    const blob = new Blob([transcriptText()], { type: "text/plain;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `chat-${(chat.id ?? "").slice(0, 8)}.txt`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 0);
  }

  function save() {
    if (!chat.id || !["queued", "connected"].includes(chat.phase)) return;
    // A call's panel nobody wrote in has nothing on the server to take back.
    if (chat.voice && !chat.log.lastSeq()) return;
    try {
      const { phase, id, service, peerName, answered, voice } = chat;
      const kept = { phase, id, service, peerName, answered, voice, lines: chat.log.lines };
      sessionStorage.setItem(STORE_KEY, JSON.stringify(kept));
    } catch {
      // Without storage a reload loses the chat on this page (the server ends it after its grace).
    }
  }

  function load() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
      return stored?.id && Array.isArray(stored.lines) ? stored : null;
    } catch {
      return null;
    }
  }

  function forget() {
    try {
      sessionStorage.removeItem(STORE_KEY);
    } catch {
      // Nothing stored.
    }
  }

  /** A voice call's text panel: the answered call `callId` shows the conversation beside it. */
  function attachCall(callId, peerName) {
    if (chat.id === callId) {
      chat.voice = true;
    } else if (!active()) {
      chat = { ...blank(), phase: "connected", id: callId, peerName, answered: true, voice: true };
      status.set("voice", "chat.voice_on", { peer: peerName ?? "" });
    }
    render();
  }

  /** The call ended: a panel nobody wrote in closes; one with texts ends like a chat. */
  function detachCall(callId, reason) {
    if (chat.id !== callId || !chat.voice || chat.phase !== "connected") return;
    if (chat.log.lastSeq()) {
      ended(reason);
      render();
    } else {
      chat = blank();
      status.key = null;
      status.element.textContent = "";
      forget();
      render();
      onChange();
    }
  }

  return {
    attachCall,
    detachCall,
    start,
    handle,
    onError,
    onResumed,
    onResumeFailed,
    onDrop,
    /** The chat waiting in a queue, if any: a message left now ends it (`message_left`). */
    get queuedId() {
      return chat.phase === "queued" ? chat.id : null;
    },
    /** Whether a chat is starting, waiting or on (no call then). */
    get busy() {
      return active() || chat.rejoining;
    },
    render,
    /** The chat is (`true`) or is no longer becoming (`false`) a voice call. */
    setVoice(on) {
      chat.voice = on;
      // Its own state: the call's status line says "connected".
      if (on) status.set("voice", "chat.voice_on", { peer: chat.peerName ?? "" });
      render();
    },
  };
}
