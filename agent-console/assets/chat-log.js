// One live chat's conversation as a page holds it (issue 16), shared by the hall and the agent
// console: the texts in seq order, this side's texts not yet committed (sent one at a time, so
// an error is about the one in flight and the order holds; a retry keeps its client id, so the
// server stores it once), the other side's delivered/read marks, and the log drawn as DOM text
// nodes (links and lists by `renderChatText`, never markup).
import { formatClock, renderChatText, t } from "./common.js";

/** After the last key press, typing counts as stopped. */
const TYPING_IDLE_MS = 3000;

/**
 * This side's typing notice (`chat_typing`, never stored): sent when it changes, and "stopped"
 * by itself `TYPING_IDLE_MS` after the last key press.
 */
export class TypingNotice {
  constructor(send) {
    this.send = send;
    this.typing = false;
    this.timer = null;
  }

  /** `chatId` (null: no chat that takes texts now) is typing now or not. */
  set(chatId, typing) {
    clearTimeout(this.timer);
    if (!chatId) {
      this.typing = false;
      return;
    }
    if (typing) this.timer = setTimeout(() => this.set(chatId, false), TYPING_IDLE_MS);
    if (typing !== this.typing) {
      this.typing = typing;
      this.send({ type: "chat_typing", chat_id: chatId, typing });
    }
  }
}

export class Conversation {
  /**
   * `side` is the one this page writes as (`citizen` or `agent`); `lines` restores a kept
   * conversation: `{ seq, from, text, at, clientId, state }`, where this side's `state` is
   * `waiting` (to be sent), `sending`, `sent`, `delivered`, `read` or `failed`.
   */
  constructor(side, lines = []) {
    this.side = side;
    this.lines = lines;
  }

  /** A text of this side's, to send when its turn comes. */
  queue(text) {
    const line = { seq: null, from: this.side, text, at: Date.now(), clientId: crypto.randomUUID(), state: "waiting" };
    this.lines.push(line);
    return line;
  }

  /**
   * Sends the oldest waiting text through `send` (returns whether it went) when none is on its
   * way; `chatId` is the chat's.
   */
  flush(chatId, send) {
    if (this.lines.some((l) => l.state === "sending")) return;
    const next = this.lines.find((l) => l.state === "waiting");
    if (next && send({ type: "send_chat", chat_id: chatId, client_id: next.clientId, text: next.text })) {
      next.state = "sending";
    }
  }

  /** `chat_sent`: the text is committed as `seq`. */
  sent(msg) {
    const line = this.lines.find((l) => l.clientId === msg.client_id);
    if (line) Object.assign(line, { seq: msg.seq, at: msg.sent_at_ms, state: "sent" });
    this.sort();
  }

  /** An error for the text on its way: a server fault sends it again, a refusal marks it. */
  failed(code) {
    const line = this.lines.find((l) => l.state === "sending");
    if (line) line.state = code === "internal" ? "waiting" : "failed";
  }

  /** A failed text goes again, with its client id. */
  retry(clientId) {
    const line = this.lines.find((l) => l.clientId === clientId && l.state === "failed");
    if (line) line.state = "waiting";
  }

  /** After a lost connection the texts that were on their way go again (same client ids). */
  resendInFlight() {
    for (const line of this.lines) if (line.state === "sending") line.state = "waiting";
  }

  /** A committed text (`chat_message`, or one of a `chat_rejoined`), added once. */
  add(msg) {
    if (this.lines.some((l) => l.seq === msg.seq)) return false;
    if (msg.from === this.side) {
      // One of ours committed while its answer was lost: the line we still hold.
      const ours = this.lines.find((l) => l.from === this.side && l.seq == null && l.text === msg.text);
      if (ours) {
        Object.assign(ours, { seq: msg.seq, at: msg.sent_at_ms, state: "sent" });
        this.sort();
        return false;
      }
    }
    this.lines.push({ seq: msg.seq, from: msg.from, text: msg.text, at: msg.sent_at_ms, state: "sent" });
    this.sort();
    return true;
  }

  /** `chat_marks`: how far the other side has got with this side's texts. */
  marks(msg) {
    for (const line of this.lines) {
      if (line.from !== this.side || line.seq == null) continue;
      if (line.seq <= msg.read_seq) line.state = "read";
      else if (line.seq <= msg.delivered_seq && line.state !== "read") line.state = "delivered";
    }
  }

  /** The highest committed seq held. */
  lastSeq() {
    return this.lines.reduce((max, l) => (l.seq != null && l.seq > max ? l.seq : max), 0);
  }

  /** Every text of this side's, committed or not. */
  mine() {
    return this.lines.filter((l) => l.from === this.side).map((l) => l.text);
  }

  /** This side's texts that were never committed. */
  unsent() {
    return this.lines.filter((l) => l.from === this.side && l.seq == null).map((l) => l.text);
  }

  /** Since when the other side has waited for this side's answer (its oldest unanswered text). */
  waitingSince() {
    let since = null;
    for (const line of this.lines) {
      if (line.from === this.side) since = null;
      else if (since == null) since = line.at;
    }
    return since;
  }

  sort() {
    this.lines.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
  }

  /**
   * Draws the log into `container`; `who(line)` names a line's writer. Keeps the log scrolled to
   * the end when it was there.
   */
  render(container, who) {
    const nodes = this.lines.map((line) => {
      const mine = line.from === this.side;
      const item = document.createElement("div");
      item.className = `chat-line ${mine ? "chat-you" : "chat-peer"}`;
      item.dataset.testid = "chat-line";
      item.dataset.from = line.from;
      if (line.seq != null) item.dataset.seq = String(line.seq);
      const name = document.createElement("span");
      name.className = "chat-who";
      name.textContent = who(line);
      if (line.at) {
        const when = document.createElement("time");
        when.dateTime = new Date(line.at).toISOString();
        when.textContent = ` · ${formatClock(line.at)}`;
        name.append(when);
      }
      const body = document.createElement("div");
      body.className = "chat-body";
      renderChatText(body, line.text);
      item.append(name, body);
      if (mine) {
        item.dataset.state = line.state;
        const mark = document.createElement("span");
        mark.className = "chat-mark";
        mark.dataset.testid = "chat-mark";
        mark.textContent = t(`chat.state.${line.state}`);
        item.append(mark);
        if (line.state === "failed") {
          const retry = document.createElement("button");
          retry.type = "button";
          retry.className = "link";
          retry.dataset.retry = line.clientId;
          retry.textContent = t("chat.retry");
          item.append(retry);
        }
      }
      return item;
    });
    const atEnd = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
    container.replaceChildren(...nodes);
    if (atEnd) container.scrollTop = container.scrollHeight;
  }

  /** The conversation as plain text (the transcript to keep). */
  text(who) {
    return this.lines
      .filter((l) => l.seq != null)
      .map((l) => `[${new Date(l.at).toLocaleString()}] ${who(l)}:\n${l.text}\n`)
      .join("\n");
  }
}
