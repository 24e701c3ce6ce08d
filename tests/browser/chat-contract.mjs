// The live chat's messages (docs/protocol.md, "Live chat") played by the test between the hall
// and the agent console, for the pages' tests while the server does not serve chats yet
// (issue 16 is built in two halves against that contract). Every page's `/ws` goes through
// Playwright's WebSocket routing to the real server; the chat messages are answered here, as
// the contract says, and everything else passes through unchanged.
//
// What it plays: `start_chat` → `chat_queued`, `chat_position`, and `chat_offered` at the
// agent console that last logged in; `accept` → `chat_connected` to both sides, then the texts
// written while waiting to the agent; `send_chat` (the citizen's from `chat_queued` on) →
// `chat_sent` to the writer (once per client id) and `chat_message` to the other side, refusing
// a blank text or one over 2,000 characters (`invalid_state`) and more than `floodLimit` texts
// of one side in `floodWindowMs` (`rate_limited`); `chat_typing` and `chat_read` (as
// `chat_marks`) to the other side;
// `resume` of a citizen with a live chat → `resumed`; `rejoin_chat` → `chat_rejoined` with the
// texts after the seq, then `chat_connected` or `chat_position`; `end_chat` → `chat_ended` to
// both; `transfer` → `chat_ended` `transferred` at the agent and `call_transferred` at the
// citizen; `wrap_up` → `wrap_up_saved`.

const MAX_TEXT_CHARS = 2000;

export class ChatContract {
  constructor({ floodLimit = 10, floodWindowMs = 10_000, agentName = "王芳 Wang Fang", citizenName = "群众 Citizen" } = {}) {
    this.floodLimit = floodLimit;
    this.floodWindowMs = floodWindowMs;
    this.agentName = agentName;
    this.citizenName = citizenName;
    /** id → `{ id, service, citizen, agent, lines, clientIds, phase, queuedAt }`. */
    this.chats = new Map();
    this.agents = [];
    /** Every message a page sent or was sent, `{ to|from, page, msg }`, for assertions. */
    this.seen = [];
    this.serial = 0;
  }

  /** Routes `context`'s WebSockets through the contract; `name` tells the pages apart. */
  async attach(context, name) {
    await context.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      const page = { name, agent: ws.url().includes("role=agent"), send: (msg) => this.deliver(page, ws, msg) };
      if (page.agent) this.agents.push(page);
      ws.onMessage((text) => {
        let msg;
        try {
          msg = JSON.parse(text);
        } catch {
          server.send(text);
          return;
        }
        this.seen.push({ from: name, msg });
        if (!this.handle(page, msg)) server.send(text);
      });
      server.onMessage((text) => {
        try {
          const msg = JSON.parse(text);
          if (msg.type === "welcome") page.token = msg.citizen_token ?? null;
          this.seen.push({ to: name, msg });
        } catch {
          // Not JSON: passed on as it is.
        }
        ws.send(text);
      });
      ws.onClose(() => {
        this.agents = this.agents.filter((a) => a !== page);
        page.closed = true;
      });
    });
  }

  deliver(page, ws, msg) {
    if (page.closed) return;
    this.seen.push({ to: page.name, msg });
    ws.send(JSON.stringify(msg));
  }

  /** Messages of `type` a page (by name) was sent. */
  sentTo(name, type) {
    return this.seen.filter((s) => s.to === name && s.msg.type === type).map((s) => s.msg);
  }

  /** The one chat started so far (tests start one at a time). */
  latest() {
    return [...this.chats.values()].at(-1) ?? null;
  }

  error(page, requestType, code, message) {
    page.send({ type: "error", code, message, request_type: requestType });
  }

  /** Whether `msg` is the chat's (answered here) rather than the server's. */
  handle(page, msg) {
    switch (msg.type) {
      case "resume": {
        // The server keeps a citizen's identity while it has a call; while a chat is live the
        // chat keeps it (the contract's `resumed`, with the chat then taken back by `rejoin_chat`).
        const live = [...this.chats.values()].some((c) => c.phase !== "ended" && c.citizen.token === msg.citizen_token);
        if (!live) return false;
        page.token = msg.citizen_token;
        page.send({ type: "resumed", citizen_token: msg.citizen_token });
        return true;
      }
      case "start_chat": {
        const id = `chat-${++this.serial}-7f3a9c2e`;
        const chat = {
          id,
          service: msg.service ?? null,
          citizen: page,
          agent: null,
          lines: [],
          clientIds: new Map(),
          phase: "queued",
          queuedAt: Date.now(),
          sends: [],
        };
        this.chats.set(id, chat);
        page.send({ type: "chat_queued", chat_id: id });
        page.send({ type: "chat_position", chat_id: id, position: 1, estimated_wait_ms: 60_000 });
        const agent = this.agents.at(-1);
        agent?.send({ type: "chat_offered", chat_id: id, service: chat.service, waited_ms: 0, ring_timeout_ms: 60_000 });
        return true;
      }
      case "accept":
      case "reject": {
        const chat = this.chats.get(msg.call_id);
        if (!chat) return false;
        if (msg.type === "reject") return true;
        chat.agent = page;
        chat.phase = "connected";
        page.send({ type: "chat_connected", chat_id: chat.id, peer_name: this.citizenName });
        chat.citizen.send({ type: "chat_connected", chat_id: chat.id, peer_name: this.agentName });
        for (const line of chat.lines) page.send({ type: "chat_message", ...line });
        return true;
      }
      case "send_chat":
        return this.sendChat(page, msg);
      case "chat_typing":
      case "chat_read": {
        const chat = this.chats.get(msg.chat_id);
        if (!chat) return false;
        const other = page === chat.citizen ? chat.agent : chat.citizen;
        if (msg.type === "chat_typing") other?.send({ type: "chat_typing", chat_id: chat.id, typing: msg.typing });
        else other?.send({ type: "chat_marks", chat_id: chat.id, delivered_seq: msg.delivered_seq, read_seq: msg.read_seq });
        return true;
      }
      case "rejoin_chat": {
        const chat = this.chats.get(msg.chat_id);
        if (!chat) return false;
        if (chat.phase === "ended") {
          this.error(page, "rejoin_chat", "invalid_state", "the chat has ended");
          return true;
        }
        chat.citizen = page;
        page.send({ type: "chat_rejoined", chat_id: chat.id, messages: chat.lines.filter((l) => l.seq > msg.after_seq) });
        if (chat.phase === "connected") page.send({ type: "chat_connected", chat_id: chat.id, peer_name: this.agentName });
        else page.send({ type: "chat_position", chat_id: chat.id, position: 1, estimated_wait_ms: 60_000 });
        return true;
      }
      case "end_chat": {
        const chat = this.chats.get(msg.chat_id);
        if (!chat) return false;
        this.end(chat, page === chat.citizen ? "citizen_hang_up" : "agent_hang_up");
        return true;
      }
      case "transfer": {
        const chat = this.chats.get(msg.call_id);
        if (!chat) return false;
        chat.agent.send({ type: "chat_ended", chat_id: chat.id, reason: "transferred" });
        chat.phase = "queued";
        chat.agent = null;
        chat.service = msg.service;
        chat.citizen.send({ type: "call_transferred", call_id: chat.id, service: msg.service });
        return true;
      }
      case "wrap_up":
        if (!this.chats.has(msg.call_id)) return false;
        page.send({ type: "wrap_up_saved", call_id: msg.call_id });
        return true;
      default:
        return false;
    }
  }

  sendChat(page, msg) {
    const chat = this.chats.get(msg.chat_id);
    if (!chat) return false;
    const from = page === chat.citizen ? "citizen" : page === chat.agent ? "agent" : null;
    const refuse = (code, message) => {
      this.error(page, "send_chat", code, message);
      return true;
    };
    const done = chat.clientIds.get(msg.client_id);
    if (done) {
      page.send(done);
      return true;
    }
    const open = chat.phase === "connected" || (chat.phase === "queued" && from === "citizen");
    if (!from || !open) return refuse("invalid_state", "not your chat, or not connected");
    if (!msg.text.trim() || [...msg.text].length > MAX_TEXT_CHARS) {
      return refuse("invalid_state", `a text is 1 to ${MAX_TEXT_CHARS} characters`);
    }
    const now = Date.now();
    chat.sends = chat.sends.filter((s) => now - s.at < this.floodWindowMs);
    if (chat.sends.filter((s) => s.from === from).length >= this.floodLimit) {
      return refuse("rate_limited", "too many texts too fast");
    }
    chat.sends.push({ at: now, from });
    const line = { chat_id: chat.id, seq: chat.lines.length + 1, from, text: msg.text, sent_at_ms: now };
    chat.lines.push(line);
    const sent = { type: "chat_sent", chat_id: chat.id, client_id: msg.client_id, seq: line.seq, sent_at_ms: now };
    chat.clientIds.set(msg.client_id, sent);
    page.send(sent);
    if (chat.phase === "connected") (from === "citizen" ? chat.agent : chat.citizen)?.send({ type: "chat_message", ...line });
    return true;
  }

  end(chat, reason) {
    chat.phase = "ended";
    chat.citizen?.send({ type: "chat_ended", chat_id: chat.id, reason });
    chat.agent?.send({ type: "chat_ended", chat_id: chat.id, reason });
  }
}
