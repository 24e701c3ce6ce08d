// The consoles' care for people who do not look at them all the time or do not use a mouse: the
// agent's keyboard shortcuts, the ringer, desktop notifications while the tab is hidden, the
// assertive announcement of an offer, focus on Accept and then on the wrap-up form, the self-
// service transcript; the staff console's polite announcements; both consoles at 360 px.
// The pages' assets come from agent-console/assets; `/ws` and `/api/*` are played by the test.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFile } from "node:fs/promises";
import { launchBrowser, openPage, pollUntil, startStaticServer, waitForState } from "./harness.mjs";

const STAFF = { id: "s-1", username: "staff1", display_name: "陈静 Chen Jing", role: "staff" };
const AGENT = { id: "a-1", username: "agent1", display_name: "王芳 Wang Fang", role: "agent" };
const SERVICE = "pension_benefit_inquiry";
const CATALOGUE = await readFile(new URL("./fixtures/catalogue.json", import.meta.url), "utf8");

/** Counts the ringer's oscillators (started, stopped) and stubs `Notification` (granted,
 * every instance kept in `window.__notes`); `document.hidden` follows `window.__hidden`. */
const INSTRUMENT = () => {
  window.__osc = { started: 0, stopped: 0 };
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    const osc = create.call(this);
    const start = osc.start.bind(osc);
    const stop = osc.stop.bind(osc);
    osc.start = (...args) => {
      window.__osc.started++;
      return start(...args);
    };
    osc.stop = (...args) => {
      window.__osc.stopped++;
      return stop(...args);
    };
    return osc;
  };
  window.__notes = [];
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => window.__hidden });
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (window.__hidden ? "hidden" : "visible"),
  });
  class FakeNotification {
    static permission = "default";
    static async requestPermission() {
      FakeNotification.permission = "granted";
      return "granted";
    }
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.closed = false;
      this.onclick = null;
      window.__notes.push(this);
    }
    close() {
      this.closed = true;
    }
  }
  window.Notification = FakeNotification;
};

let statics;
let browser;

before(async () => {
  statics = await startStaticServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await statics?.close();
});

/** Plays the server: the HTTP API the consoles use and `/ws` (greeting with `welcome`).
 * Returns `{ send, next }`: push a server message; wait for a client message of a type. */
async function scriptedServer(context, { user, inbox = [] }) {
  const state = { loggedIn: false, socket: null, sent: [] };
  await context.route("**/api/**", async (route) => {
    const url = new URL(route.request().url());
    const json = (status, body) =>
      route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
    switch (url.pathname) {
      case "/api/catalogue":
        return route.fulfill({ status: 200, contentType: "application/json", body: CATALOGUE });
      case "/api/login":
        state.loggedIn = true;
        return json(200, { user });
      case "/api/me":
        return state.loggedIn ? json(200, { user }) : json(401, { code: "session_expired", message: "no session" });
      case "/api/audit":
        return json(200, { entries: [] });
      case "/api/inbox":
        return json(200, { messages: inbox });
      case "/api/follow-ups":
        return json(200, { follow_ups: [] });
      default:
        return json(404, { code: "not_found", message: url.pathname });
    }
  });
  await context.routeWebSocket(/\/ws(\?.*)?$/, (ws) => {
    state.socket = ws;
    ws.onMessage((text) => state.sent.push(JSON.parse(text)));
    ws.send(JSON.stringify({
      type: "welcome",
      protocol: 1,
      role: user.role,
      user: { id: user.id, username: user.username, display_name: user.display_name, role: user.role },
    }));
  });
  return {
    send: (msg) => state.socket.send(JSON.stringify(msg)),
    next: (type, from = 0) =>
      pollUntil(() => state.sent.slice(from).find((m) => m.type === type), { what: `a ${type} message` }),
    count: () => state.sent.length,
  };
}

async function logIn(page, username) {
  await page.fill("#login-username", username);
  await page.fill("#login-password", "demo");
  await page.click("#login-submit");
  await page.locator("#console-section").waitFor({ state: "visible" });
}

/** The agent console, signed in, headset connected, available. */
async function agentConsole(name, options = {}) {
  let server;
  const agent = await openPage(browser, name, `${statics.base}/agent`, { locale: "en-US", ...options }, async (context) => {
    await context.addInitScript(INSTRUMENT);
    server = await scriptedServer(context, { user: AGENT });
  });
  const { page } = agent;
  await logIn(page, "agent1");
  await server.next("media_connect");
  server.send({ type: "media_state", state: "connected" });
  await waitForState(page, "#media-state", "connected");
  server.send({ type: "agent_state", state: "available", since_ms: Date.now() });
  return { ...agent, server };
}

function offer(callId, extra = {}) {
  return {
    type: "call_offered",
    call_id: callId,
    service: SERVICE,
    skill: "pension",
    priority: 0,
    transfers: 0,
    waited_ms: 65_000,
    ring_timeout_ms: 20_000,
    ...extra,
  };
}

const focusedId = (page) => page.evaluate(() => document.activeElement?.id ?? null);
const ringer = (page) => page.evaluate(() => window.voicedesk.ringer);

test("agent console: an offer rings, is announced and takes the focus; shortcuts accept, mute and hang up; then the wrap-up form", async () => {
  const agent = await agentConsole("care-agent");
  const { page, server } = agent;
  try {
    // The shortcuts are on the buttons and in the help list.
    assert.equal(await page.getAttribute("#accept-button", "aria-keyshortcuts"), "Alt+A");
    assert.equal(await page.getAttribute("#reject-button", "aria-keyshortcuts"), "Alt+R");
    assert.equal(await page.getAttribute("#mute-button", "aria-keyshortcuts"), "Alt+M");
    assert.equal(await page.getAttribute("#hangup-button", "aria-keyshortcuts"), "Alt+H");
    assert.match(await page.locator("#accept-button").textContent(), /Accept\s*Alt\+A/);
    await page.click("#shortcut-help summary");
    assert.equal(await page.locator("#shortcut-help dt").count(), 4);

    // The wrap-up notes are being typed when the offer comes.
    await page.focus("#help-reason").catch(() => {});
    await page.focus("#away-reason");
    server.send(offer("c-1", {
      transcript: [
        { from: "citizen", text: "养老金什么时候发?" },
        { from: "assistant", text: "养老金发放时间" },
      ],
    }));
    await page.locator("#incoming-call").waitFor({ state: "visible" });
    await pollUntil(async () => (await focusedId(page)) === "accept-button", { what: "focus on Accept" });
    const announcement = await pollUntil(async () => (await page.textContent("#offer-announcer")).trim(), {
      what: "the offer's announcement",
    });
    assert.equal(await page.getAttribute("#offer-announcer", "aria-live"), "assertive");
    assert.match(announcement, /Incoming call: .+, the citizen has waited 1:0\d\. Alt\+A to accept/);
    // The ring plays: two oscillators started, none stopped.
    await pollUntil(async () => (await ringer(page)).playing, { what: "the ringer to play" });
    assert.deepEqual(await page.evaluate(() => window.__osc), { started: 2, stopped: 0 });
    assert.equal(await page.getAttribute("#incoming-call", "data-ringing"), "true");
    // The self-service conversation comes with the offer.
    await page.locator("#incoming-transcript").waitFor({ state: "visible" });
    assert.deepEqual(
      (await page.locator("#incoming-transcript li").allTextContents()).map((s) => s.trim()),
      ["Citizen: 养老金什么时候发?", "Assistant: 养老金发放时间"],
    );

    // Alt+A accepts (from wherever the focus is), and the ring stops at once.
    await page.focus("#away-reason");
    const from = server.count();
    await page.keyboard.press("Alt+A");
    const accept = await server.next("accept", from);
    assert.equal(accept.call_id, "c-1");
    await pollUntil(async () => !(await ringer(page)).playing, { what: "the ringer to stop" });
    assert.deepEqual(await page.evaluate(() => window.__osc), { started: 2, stopped: 2 });

    server.send({ type: "call_connected", call_id: "c-1", peer_name: "群众 Citizen" });
    await page.locator("#current-call").waitFor({ state: "visible" });
    await pollUntil(async () => (await focusedId(page)) === "current-heading", { what: "focus on the call" });
    assert.equal(await page.textContent("#offer-announcer"), "");
    await page.locator("#call-transcript").waitFor({ state: "visible" });
    assert.match(await page.textContent("#call-duration"), /^0:0\d$/);

    // Alt+M mutes the microphone — also while typing in a field, where it types nothing.
    await page.focus("#help-reason");
    await page.keyboard.press("Alt+M");
    await waitForState(page, "#mic-state", "muted");
    assert.equal(await page.getAttribute("#mute-button", "aria-pressed"), "true");
    assert.match(await page.textContent("#mic-state"), /Muted/);
    assert.equal(await page.inputValue("#help-reason"), "");
    assert.deepEqual(
      await page.evaluate(() => window.voicedesk.pc.getSenders().filter((s) => s.track).map((s) => s.track.enabled)),
      [false],
    );
    await page.keyboard.press("Alt+M");
    await waitForState(page, "#mic-state", "live");
    assert.equal(await page.getAttribute("#mute-button", "aria-pressed"), "false");

    // Alt+H hangs up; the wrap-up form has the focus afterwards.
    const beforeHangUp = server.count();
    await page.keyboard.press("Alt+H");
    assert.equal((await server.next("hang_up", beforeHangUp)).call_id, "c-1");
    server.send({ type: "call_ended", call_id: "c-1", reason: "agent_hung_up" });
    await page.locator("#wrap-up").waitFor({ state: "visible" });
    await pollUntil(async () => (await focusedId(page)) === "wrap-up-disposition", { what: "focus on the wrap-up form" });
    assert.equal(await page.getAttribute("#wrap-up-form", "aria-labelledby"), "wrap-up-heading");
    // Typing notes is safe: letters type, shortcuts for absent buttons do nothing.
    await page.focus("#wrap-up-notes");
    await page.keyboard.type("ahmr");
    const afterTyping = server.count();
    await page.keyboard.press("Alt+A");
    assert.equal(await page.inputValue("#wrap-up-notes"), "ahmr");
    assert.equal(server.count(), afterTyping);

    // A muted ringer stays silent for the next offer, which Alt+R rejects.
    await page.click("#ringer-mute");
    assert.equal(await page.getAttribute("#ringer-mute", "aria-pressed"), "true");
    server.send(offer("c-2", { transfers: 2 }));
    await page.locator("#incoming-call").waitFor({ state: "visible" });
    assert.match(
      await pollUntil(async () => (await page.textContent("#offer-announcer")).trim(), { what: "the announcement" }),
      /^Transferred call \(transferred 2 times\)/,
    );
    assert.deepEqual(await ringer(page), { wanted: true, playing: false, muted: true });
    assert.equal((await page.evaluate(() => window.__osc)).started, 2);
    const beforeReject = server.count();
    await page.keyboard.press("Alt+R");
    assert.equal((await server.next("reject", beforeReject)).call_id, "c-2");
    server.send({ type: "offer_withdrawn", call_id: "c-2", reason: "rejected" });
    await page.locator("#incoming-call").waitFor({ state: "hidden" });
    assert.deepEqual(await ringer(page), { wanted: false, playing: false, muted: true });
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
  }
});

test("agent console: a desktop notification while the tab is hidden, once permitted; a click brings the tab back", async () => {
  const agent = await agentConsole("care-notify");
  const { page, server } = agent;
  try {
    // Permission is asked by a button (a user gesture); afterwards the console says it is on.
    await page.locator("#notify-enable").waitFor({ state: "visible" });
    await page.click("#notify-enable");
    await page.locator("#notify-enable").waitFor({ state: "hidden" });
    await waitForState(page, "#notify-state", "granted");

    // Visible tab: no notification.
    server.send(offer("c-1"));
    await page.locator("#incoming-call").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => window.__notes.length), 0);
    // The tab goes to the background while it rings: one notification.
    await page.evaluate(() => {
      window.__hidden = true;
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const note = await pollUntil(
      () => page.evaluate(() => window.__notes[0] && { title: window.__notes[0].title, body: window.__notes[0].body, closed: window.__notes[0].closed }),
      { what: "a notification" },
    );
    assert.match(note.title, /^Incoming call: /);
    assert.match(note.body, /waited 1:0\d/);
    assert.equal(note.closed, false);
    // Clicking it brings the tab forward and the focus to Accept; it closes.
    await page.evaluate(() => {
      window.__hidden = false;
      window.__notes[0].onclick();
      document.dispatchEvent(new Event("visibilitychange"));
    });
    assert.equal(await page.evaluate(() => window.__notes[0].closed), true);
    assert.equal(await focusedId(page), "accept-button");
    server.send({ type: "offer_withdrawn", call_id: "c-1", reason: "timeout" });
    await page.locator("#incoming-call").waitFor({ state: "hidden" });

    // An offer arriving while hidden is notified at once; it closes when the offer goes.
    await page.evaluate(() => {
      window.__hidden = true;
      document.dispatchEvent(new Event("visibilitychange"));
    });
    server.send(offer("c-2"));
    await pollUntil(() => page.evaluate(() => window.__notes.length === 2), { what: "a second notification" });
    server.send({ type: "offer_withdrawn", call_id: "c-2", reason: "timeout" });
    await pollUntil(() => page.evaluate(() => window.__notes[1].closed), { what: "the notification to close" });
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
  }
});

/** No horizontal page scroll at 360 px; what is wider scrolls inside its own labelled region. */
async function assertFitsNarrow(page) {
  const result = await page.evaluate(() => ({
    scrollWidth: document.scrollingElement.scrollWidth,
    wide: [...document.querySelectorAll("body *")]
      .filter((node) => node.getBoundingClientRect().right > 361 && !node.closest(".table-scroll") && node.getClientRects().length)
      .map((node) => `${node.tagName.toLowerCase()}#${node.id}.${node.className}`)
      .slice(0, 5),
    regions: [...document.querySelectorAll(".table-scroll")].map((node) => ({
      role: node.getAttribute("role"),
      label: node.getAttribute("aria-labelledby") || node.getAttribute("aria-label"),
      tabindex: node.getAttribute("tabindex"),
    })),
  }));
  assert.ok(result.scrollWidth <= 360, `page scrolls sideways: ${result.scrollWidth} px; too wide: ${result.wide.join(", ")}`);
  for (const region of result.regions) {
    assert.equal(region.role, "region");
    assert.ok(region.label, "a scrolling table region has a label");
    assert.equal(region.tabindex, "0");
  }
}

test("agent console at 360 px: no horizontal page scroll, with an offer and during a call", async () => {
  const agent = await agentConsole("care-agent-narrow", { viewport: { width: 360, height: 740 } });
  const { page, server } = agent;
  try {
    server.send({ type: "queue_status", queues: [{ skill: "pension", waiting: 3, longest_wait_ms: 61_000, available_agents: 1, staffed_agents: 2 }] });
    await assertFitsNarrow(page);
    server.send(offer("c-1", { transfers: 1, transcript: [{ from: "citizen", text: "x".repeat(120) }] }));
    await page.locator("#incoming-call").waitFor({ state: "visible" });
    await assertFitsNarrow(page);
    await page.keyboard.press("Alt+A");
    server.send({ type: "call_connected", call_id: "c-1", peer_name: "群众 Citizen" });
    await page.locator("#current-call").waitFor({ state: "visible" });
    await assertFitsNarrow(page);
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
  }
});

/** The staff console, signed in, headset connected; `inbox` is the list `/api/inbox` answers. */
async function staffConsole(name, inbox, options = {}) {
  let server;
  const staff = await openPage(browser, name, `${statics.base}/staff`, { locale: "en-US", ...options }, async (context) => {
    server = await scriptedServer(context, { user: STAFF, inbox });
  });
  const { page } = staff;
  await logIn(page, "staff1");
  await server.next("media_connect");
  server.send({ type: "media_state", state: "connected" });
  await waitForState(page, "#media-state", "connected");
  return { ...staff, server };
}

function wallboard(now, { longest = 15_000, help = [] } = {}) {
  const queue = (name) => ({
    name,
    available_agents: 0,
    staffed_agents: 1,
    waiting: 1,
    longest_wait_ms: longest,
    answered_today: 3,
    abandoned_today: 0,
    service_level_pct: 100,
    service_level_seconds: 20,
  });
  return {
    type: "wallboard",
    at_ms: now,
    queues: [queue("all"), queue("pension")],
    agents: [{ user_id: AGENT.id, name: AGENT.display_name, state: "on_call", since_ms: now - 30_000, skills: ["pension"] }],
    calls: [
      { call_id: "c-1", service: SERVICE, skill: "pension", phase: "talking", agent_name: AGENT.display_name, queued_at_ms: now - 90_000, answered_at_ms: now - 30_000, supporters: [] },
    ],
    help_requests: help,
    history: [],
  };
}

function message(overdue) {
  const now = Date.now();
  return {
    id: "m-1",
    ticket: "LY-0001",
    service: SERVICE,
    kind: "voice",
    voice_ms: 12_000,
    created_at_ms: now - 86_400_000,
    due_at_ms: overdue ? now - 1000 : now + 1000,
    state: "new",
    overdue,
  };
}

test("staff console: polite announcements only for a queue crossing its limit, a new help request and a message becoming overdue; keyboard operation", async () => {
  const inbox = [message(false)];
  const staff = await staffConsole("care-staff", inbox);
  const { page, server } = staff;
  const announcer = () => page.textContent("#staff-announcer").then((s) => s.trim());
  try {
    assert.equal(await page.getAttribute("#staff-announcer", "aria-live"), "polite");
    // The first wallboard, with a help request already open, is shown, not announced; the clocks
    // tick without a word.
    const now = Date.now();
    server.send(wallboard(now, { help: [{ call_id: "c-0", agent_name: "李明 Li Ming", reason: "old", requested_at_ms: now - 5000 }] }));
    const duration = page.locator('#calls-table tr[data-call-id="c-1"] td').nth(3);
    await duration.waitFor();
    const first = await duration.textContent();
    await pollUntil(async () => (await duration.textContent()) !== first, { what: "the clock to tick", timeoutMs: 3000 });
    assert.equal(await announcer(), "");
    const longest = page.locator('#queue-table tr[data-queue="pension"] td').nth(1);
    assert.equal(await longest.getAttribute("data-over"), "false");

    // The pension queue's longest wait passes its 20 s: announced once, marked in words.
    server.send(wallboard(Date.now(), { longest: 25_000, help: [{ call_id: "c-0", agent_name: "李明 Li Ming", reason: "old", requested_at_ms: now - 5000 }] }));
    assert.equal(
      await pollUntil(announcer, { what: "the queue announcement" }),
      "Queue Pension insurance: the longest wait is now over 20 s.",
    );
    assert.equal(await longest.getAttribute("data-over"), "true");
    assert.equal(await longest.getAttribute("data-over-text"), "over 20 s");
    assert.match(
      await longest.evaluate((node) => getComputedStyle(node, "::after").content),
      /over 20 s/,
    );

    // A new help request is announced.
    server.send(wallboard(Date.now(), {
      longest: 26_000,
      help: [
        { call_id: "c-0", agent_name: "李明 Li Ming", reason: "old", requested_at_ms: now - 5000 },
        { call_id: "c-1", agent_name: AGENT.display_name, reason: "跨省转移", requested_at_ms: Date.now() },
      ],
    }));
    assert.equal(
      await pollUntil(async () => (await announcer()).includes("asks for help") && announcer(), { what: "the help announcement" }),
      `${AGENT.display_name} asks for help: 跨省转移`,
    );

    // The live-call actions by keyboard: Tab reaches Monitor, Enter joins.
    const monitor = page.locator('#calls-table tr[data-call-id="c-1"] button[data-action="monitor"]');
    await monitor.focus();
    await page.keyboard.press("Enter");
    assert.deepEqual(await server.next("join_call"), { type: "join_call", call_id: "c-1", mode: "monitor" });

    // A message seen in time and now overdue is announced (on the next refresh).
    await page.locator('#inbox-table button[data-open="m-1"]').waitFor();
    inbox[0] = message(true);
    await page.click("#inbox-refresh");
    assert.equal(
      await pollUntil(async () => (await announcer()).includes("overdue") && announcer(), { what: "the overdue announcement" }),
      "Message LY-0001 is now overdue.",
    );
    // Opening it by keyboard: the detail's heading takes the focus; the player is labelled.
    await page.locator('#inbox-table button[data-open="m-1"]').focus();
    await page.keyboard.press("Enter");
    await pollUntil(async () => (await focusedId(page)) === "inbox-detail-heading", { what: "focus on the message" });
    assert.equal(await page.getAttribute("#detail-voice", "aria-label"), "Voice message of LY-0001");
    assert.equal(await page.getAttribute("#reply-form", "aria-labelledby"), "inbox-reply-label");
    assert.deepEqual(staff.errors, []);
  } finally {
    await staff.context.close();
  }
});

test("staff console at 360 px: no horizontal page scroll; wide tables scroll in labelled, focusable regions", async () => {
  const staff = await staffConsole("care-staff-narrow", [message(true)], { viewport: { width: 360, height: 740 } });
  const { page, server } = staff;
  try {
    server.send(wallboard(Date.now(), { longest: 25_000 }));
    await page.locator('#calls-table tr[data-call-id="c-1"]').waitFor();
    await page.locator('#inbox-table button[data-open="m-1"]').waitFor();
    await assertFitsNarrow(page);
    await page.click('#inbox-table button[data-open="m-1"]');
    await page.locator("#inbox-detail").waitFor({ state: "visible" });
    await assertFitsNarrow(page);
    assert.deepEqual(staff.errors, []);
  } finally {
    await staff.context.close();
  }
});
