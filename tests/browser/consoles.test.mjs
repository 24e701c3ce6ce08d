// The support features of the three pages against a scripted server: the pages' assets from
// agent-console/assets, `/ws` and `/api/*` played by the test (Playwright's routeWebSocket and
// route), so every message of the protocol can be sent exactly when the test wants it.
// support.test.mjs runs the same features end to end against the real server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFile } from "node:fs/promises";
import { launchBrowser, openPage, pollUntil, startStaticServer, waitForState } from "./harness.mjs";

const STAFF = { id: "s-1", username: "staff1", display_name: "陈静 Chen Jing", role: "staff" };
const AGENT = { id: "a-1", username: "agent1", display_name: "王芳 Wang Fang", role: "agent" };
/** A service id of the catalogue (fixtures/catalogue.json, a copy of the real one). */
const SERVICE = "pension_benefit_inquiry";
const CATALOGUE = await readFile(new URL("./fixtures/catalogue.json", import.meta.url), "utf8");

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

/**
 * Plays the server for one browser context: `/api/login`, `/api/me`, `/api/logout`,
 * `/api/audit` (answered from `audit`, a mutable array) and `/ws`, which greets with `welcome`.
 * Returns `{ sent, send, next, auditUrls }`: the client messages received, a way to push
 * server messages, and `next(type, from)` waiting for a client message of `type` at index
 * `from` or later.
 */
async function scriptedServer(context, { user, audit = [], catalogue = true }) {
  const state = { loggedIn: false, socket: null, sent: [], auditUrls: [] };
  await context.route("**/api/**", async (route) => {
    const url = new URL(route.request().url());
    const json = (status, body) =>
      route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
    switch (url.pathname) {
      case "/api/catalogue":
        return catalogue
          ? route.fulfill({ status: 200, contentType: "application/json", body: CATALOGUE })
          : json(503, { code: "internal", message: "unavailable" });
      case "/api/login":
        state.loggedIn = true;
        return json(200, { user });
      case "/api/me":
        return state.loggedIn ? json(200, { user }) : json(401, { code: "session_expired", message: "no session" });
      case "/api/logout":
        state.loggedIn = false;
        return route.fulfill({ status: 204 });
      case "/api/audit":
        state.auditUrls.push(url.search);
        return json(200, {
          entries: audit.filter((e) => !url.searchParams.get("call_id") || e.call_id === url.searchParams.get("call_id")),
        });
      default:
        return json(404, { code: "not_found", message: url.pathname });
    }
  });
  await context.routeWebSocket(/\/ws(\?.*)?$/, (ws) => {
    state.socket = ws;
    ws.onMessage((text) => state.sent.push(JSON.parse(text)));
    const role = user ? user.role : "citizen";
    ws.send(JSON.stringify(
      user
        ? { type: "welcome", protocol: 1, role, user: { id: user.id, username: user.username, display_name: user.display_name, role } }
        : { type: "welcome", protocol: 1, role, citizen_token: "a".repeat(64) },
    ));
  });
  return {
    sent: state.sent,
    auditUrls: state.auditUrls,
    send: (msg) => state.socket.send(JSON.stringify(msg)),
    next: (type, from = 0) =>
      pollUntil(() => state.sent.slice(from).find((m) => m.type === type), { what: `a ${type} message`, timeoutMs: 10_000 }),
  };
}

async function logIn(page, username) {
  await page.fill("#login-username", username);
  await page.fill("#login-password", "demo");
  await page.click("#login-submit");
}

function text(page, selector) {
  return page.locator(selector).first().textContent().then((s) => s.trim());
}

test("staff console: wallboard, chart, help requests, join/switch/leave, errors and the audit log", async () => {
  const now = Date.now();
  const audit = [];
  let server;
  const staff = await openPage(browser, "consoles-staff", `${statics.base}/staff`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context, { user: STAFF, audit });
  });
  const { page } = staff;
  try {
    await logIn(page, "staff1");
    await page.locator("#console-section").waitFor({ state: "visible" });
    // The headset is offered at once, before any call: two audio sections.
    const connect = await server.next("media_connect");
    assert.equal((connect.sdp.match(/^m=audio/gm) || []).length, 2, "two receive slots");
    assert.ok(await page.evaluate(() => window.voicedesk.pc instanceof RTCPeerConnection));
    server.send({ type: "media_state", state: "connected" });
    await waitForState(page, "#media-state", "connected");
    await pollUntil(() => server.auditUrls.length >= 1, { what: "the audit log to load" });
    assert.equal(server.auditUrls[0], "?limit=50");

    const history = Array.from({ length: 12 }, (_, i) => ({
      at_ms: now - (11 - i) * 60_000,
      waiting: i % 4,
      ...(i === 3 ? {} : { service_level_pct: 80 + i }),
    }));
    const wallboard = {
      type: "wallboard",
      at_ms: now,
      // A first row for all queues together, then one per skill.
      queues: [
        { name: "all", available_agents: 1, staffed_agents: 3, waiting: 2, longest_wait_ms: 41_000, answered_today: 57, abandoned_today: 3, service_level_pct: 91.7, service_level_seconds: 20 },
        { name: "pension", available_agents: 1, staffed_agents: 2, waiting: 1, longest_wait_ms: 41_000, answered_today: 40, abandoned_today: 2, service_level_pct: 90.0, service_level_seconds: 20 },
        { name: "medical", available_agents: 0, staffed_agents: 1, waiting: 1, longest_wait_ms: 12_000, answered_today: 17, abandoned_today: 1, service_level_pct: null, service_level_seconds: 20, service_level_target_pct: 90 },
      ],
      agents: [
        { user_id: "a-1", name: AGENT.display_name, state: "on_call", since_ms: now - 65_000, reason: null, skills: ["pension", "medical"] },
        { user_id: "a-2", name: "李明 Li Ming", state: "available", since_ms: now - 5_000, reason: null, skills: ["medical"] },
        { user_id: "a-3", name: "赵磊 Zhao Lei", state: "away", since_ms: now - 300_000, reason: "meal", skills: ["pension"] },
      ],
      calls: [
        {
          call_id: "c-1", service: SERVICE, skill: "pension", phase: "talking", agent_name: AGENT.display_name, queued_at_ms: now - 90_000, answered_at_ms: now - 30_000, supporters: [],
          citizen_quality: { mos: 2.84, loss_pct: 5.2, jitter_ms: 4.4, rtt_ms: 38.4 },
          agent_quality: { mos: 4.38, loss_pct: 0, jitter_ms: 1.2 },
        },
        { call_id: "c-2", service: "medical_reimbursement", skill: "medical", phase: "talking", agent_name: "李明 Li Ming", queued_at_ms: now - 50_000, answered_at_ms: now - 20_000, supporters: [] },
        { call_id: "c-3", service: "retired_service_that_is_gone", skill: "pension", phase: "queued", queued_at_ms: now - 41_000, supporters: [] },
      ],
      help_requests: [
        { call_id: "c-2", agent_name: "李明 Li Ming", reason: "newer", requested_at_ms: now - 3_000 },
        { call_id: "c-1", agent_name: AGENT.display_name, reason: "跨省转移政策", requested_at_ms: now - 12_000 },
      ],
      history,
    };
    server.send(wallboard);
    await waitForState(page, "#wallboard", "live");

    // Queues, agents and calls.
    assert.deepEqual(
      await page.locator("#queue-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.queue)),
      ["all", "pension", "medical"],
      "all queues first, then one row per skill",
    );
    const queue = page.locator('#queue-table tr[data-queue="all"]');
    assert.equal(await queue.locator("th").textContent(), "All queues");
    assert.equal(await queue.locator("td").nth(0).textContent(), "2");
    assert.match(await queue.locator("td").nth(1).textContent(), /^0:4[12]$/);
    assert.equal(await queue.locator("td").nth(4).textContent(), "91.7 % (target 80 % within 20 s)");
    assert.equal(await queue.locator("td").nth(5).textContent(), "1 / 3");
    const medical = page.locator('#queue-table tr[data-queue="medical"]');
    assert.equal(await medical.locator("th").textContent(), "Medical insurance");
    assert.equal(await medical.locator("td").nth(4).textContent(), "— (target 90 % within 20 s)");
    assert.equal(await medical.locator("td").nth(5).textContent(), "0 / 1");
    assert.equal(await page.locator('#agents-table tr[data-agent-id="a-3"] td').nth(0).textContent(), "Away · Meal");
    const agentRow = page.locator('#agents-table tr[data-agent-id="a-1"]');
    assert.equal(await agentRow.locator("td").nth(0).textContent(), "On a call");
    const before = await agentRow.locator("td").nth(1).textContent();
    assert.match(before, /^1:0[5-9]$/);
    await pollUntil(async () => (await agentRow.locator("td").nth(1).textContent()) !== before, { what: "time in state to tick", timeoutMs: 3_000 });
    assert.equal(await page.locator("#calls-table tr[data-call-id]").count(), 3);
    const call = page.locator('#calls-table tr[data-call-id="c-1"]');
    assert.match(await call.textContent(), /Pension benefit inquiry · Pension insurance/);
    // An id the catalogue does not know is shown as it is.
    assert.match(await page.locator('#calls-table tr[data-call-id="c-3"]').textContent(), /retired_service_that_is_gone · Pension insurance/);
    assert.match(await call.textContent(), /Wang Fang/);
    // Each side's audio quality; a poor side is marked in words and colour, the figures in the title.
    const quality = call.locator("td.quality");
    assert.equal(await quality.textContent(), "Citizen 2.8 (poor); Agent 4.4");
    assert.equal(await quality.getAttribute("data-poor"), "citizen");
    assert.match(
      await quality.getAttribute("title"),
      /^Citizen: estimated MOS 2\.84 of 4\.5, loss 5\.2 %, jitter 4 ms, round trip 38 ms\nAgent: estimated MOS 4\.38 of 4\.5, loss 0\.0 %, jitter 1 ms, round trip — ms$/,
    );
    assert.equal(await page.locator('#calls-table tr[data-call-id="c-2"] td.quality').textContent(), "—");
    for (const action of ["monitor", "whisper", "barge", "take_over"]) {
      assert.ok(await call.locator(`[data-action=${action}]`).isEnabled(), `${action} is enabled`);
    }
    assert.ok(await call.locator("[data-action=leave]").isDisabled(), "leave waits for a join");
    assert.ok(await page.locator('#calls-table tr[data-call-id="c-3"] [data-action=monitor]').isDisabled(), "a queued call cannot be joined");

    // Help requests, oldest first, waiting time ticking.
    const requests = page.locator("#help-requests [data-call-id]");
    assert.deepEqual(await requests.evaluateAll((rows) => rows.map((r) => r.dataset.callId)), ["c-1", "c-2"]);
    assert.match(await requests.first().textContent(), /跨省转移政策/);
    // (12 s when sent; a loaded machine may take a few seconds more to get here.)
    assert.match(await requests.first().locator(".help-waiting").textContent(), /^0:1[2-9]$/);

    // The chart: an SVG with both series, axes with time labels, a summary and a data table.
    const label = await page.getAttribute("#history-chart svg", "aria-label");
    assert.match(label, /^Queue length and service level from \d\d:\d\d to \d\d:\d\d: 3 waiting now, at most 3; service level now 91\.0%\.$/);
    assert.match(await page.getAttribute("#history-chart path.chart-waiting", "d"), /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){11}$/);
    assert.equal((await page.getAttribute("#history-chart path.chart-sl", "d")).split("M").length - 1, 2, "the unknown level leaves a gap");
    assert.ok((await page.locator("#history-chart text").allTextContents()).some((s) => /^\d\d:\d\d$/.test(s)), "time labels");
    assert.equal(await page.locator("#history-table tbody tr").count(), 12);
    assert.deepEqual(
      await page.locator("#history-table").evaluate((t) => [getComputedStyle(t).position, getComputedStyle(t).clipPath]),
      ["absolute", "inset(50%)"],
      "the table is visually hidden",
    );

    // Monitor: not on the call yet → join_call; the buttons wait for the reply.
    let from = server.sent.length;
    await call.locator("[data-action=monitor]").click();
    assert.deepEqual(await server.next("join_call", from), { type: "join_call", call_id: "c-1", mode: "monitor" });
    assert.ok(await call.locator("[data-action=whisper]").isDisabled(), "buttons wait for the reply");
    audit.push({ id: 1, at_ms: now + 1000, actor_id: STAFF.id, call_id: "c-1", action: "join", mode: "monitor", detail: null });
    const auditsBefore = server.auditUrls.length;
    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "monitor" }] });
    await page.locator('#current-mode[data-mode="monitor"]').waitFor();
    assert.equal(await page.getAttribute("#current-mode", "data-call-id"), "c-1");
    assert.match(await text(page, "#current-mode"), /Monitor · Pension benefit inquiry \(王芳 Wang Fang\)/);
    assert.equal(await call.locator("[data-action=monitor]").getAttribute("aria-pressed"), "true");
    assert.match(await call.textContent(), /陈静 Chen Jing — monitoring/);
    await pollUntil(() => server.auditUrls.length > auditsBefore, { what: "the audit log to reload after the join" });
    await page.locator('#audit-table tr[data-audit-action="join"]').waitFor();
    assert.match(await page.locator('#audit-table tr[data-audit-action="join"]').textContent(), /陈静 Chen Jing.*Joined.*Monitor/);
    // On a call: other calls cannot be joined until this one is left.
    assert.ok(await page.locator('#calls-table tr[data-call-id="c-2"] [data-action=monitor]').isDisabled());
    assert.ok(await page.locator('#help-requests [data-call-id="c-2"] [data-action=accept_help]').isDisabled());

    // Whisper, refused: the error is readable and the buttons work again.
    from = server.sent.length;
    await call.locator("[data-action=whisper]").click();
    assert.deepEqual(await server.next("set_mode", from), { type: "set_mode", call_id: "c-1", mode: "whisper" });
    server.send({ type: "error", code: "invalid_state", message: "another staff member already whispers", request_type: "set_mode" });
    await page.locator("#error-message").waitFor({ state: "visible" });
    assert.equal(await text(page, "#error-message"), "Could not change the mode: not possible right now. another staff member already whispers (invalid_state)");
    await pollUntil(() => call.locator("[data-action=whisper]").isEnabled(), { what: "whisper to be enabled again" });

    // Whisper, accepted.
    from = server.sent.length;
    await call.locator("[data-action=whisper]").click();
    await server.next("set_mode", from);
    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "whisper" }] });
    await page.locator('#current-mode[data-mode="whisper"]').waitFor();
    assert.ok(await page.locator("#error-message").isHidden(), "the error is cleared by the next action");

    // A later wallboard carries the same word.
    server.send({ ...wallboard, at_ms: now + 2000, calls: wallboard.calls.map((c) => (c.call_id === "c-1" ? { ...c, supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "whisper" }] } : c)) });
    await page.locator('#current-mode[data-mode="whisper"]').waitFor();

    // The citizen of the supported call is lost and waited for: the status says so once, the
    // current call and the live-calls table in words; another call's lost agent too.
    server.send({ type: "peer_reconnecting", call_id: "c-1", peer: "citizen", reconnect_by_ms: now + 2000 + 60_000 });
    await page.locator('#status[data-state="peer_reconnecting"]').waitFor();
    assert.match(await text(page, "#status"), /the citizen's connection dropped; waiting up to \d+ s/);
    await page.locator('#current-mode[data-reconnecting="citizen"]').waitFor();
    assert.match(await text(page, "#current-mode"), /the citizen's connection dropped/);
    const mine = (c) => (c.call_id === "c-1" ? { ...c, supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "whisper" }] } : c);
    server.send({
      ...wallboard,
      at_ms: now + 3000,
      calls: wallboard.calls.map(mine).map((c) => ({ ...c, reconnecting: { "c-1": ["citizen"], "c-2": ["agent"] }[c.call_id] ?? [] })),
    });
    await page.locator('#calls-table tr[data-call-id="c-2"][data-reconnecting="agent"]').waitFor();
    assert.match(await text(page, '#calls-table tr[data-call-id="c-2"] td:nth-child(2)'), /^Talking; the agent's connection dropped/);
    assert.match(await text(page, '#calls-table tr[data-call-id="c-1"] td:nth-child(2)'), /^Talking; the citizen's connection dropped/);
    server.send({ type: "peer_reconnected", call_id: "c-1", peer: "citizen" });
    await page.locator('#current-mode[data-reconnecting=""]').waitFor();
    assert.equal(await text(page, "#status"), "The citizen is back on the call you support.");
    server.send({ ...wallboard, at_ms: now + 4000, calls: wallboard.calls.map(mine) });
    await page.locator('#calls-table tr[data-call-id="c-2"][data-reconnecting=""]').waitFor();

    // Leave.
    from = server.sent.length;
    await call.locator("[data-action=leave]").click();
    assert.deepEqual(await server.next("leave_call", from), { type: "leave_call", call_id: "c-1" });
    server.send({ type: "support_changed", call_id: "c-1", supporters: [] });
    await page.locator('#current-mode[data-mode="none"]').waitFor();
    assert.equal(await text(page, "#status"), "You left the call.");

    // Accepting a help request.
    from = server.sent.length;
    await page.locator('#help-requests [data-call-id="c-2"] [data-action=accept_help]').click();
    assert.deepEqual(await server.next("accept_help", from), { type: "accept_help", call_id: "c-2" });
    server.send({ type: "support_changed", call_id: "c-2", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "whisper" }] });
    await page.locator('#current-mode[data-mode="whisper"][data-call-id="c-2"]').waitFor();

    // The audit log of one call.
    const count = server.auditUrls.length;
    await call.locator("[data-action=select]").click();
    await pollUntil(() => server.auditUrls.slice(count).includes("?limit=50&call_id=c-1"), { what: "the audit log of c-1" });
    assert.match(await text(page, "#audit-scope"), /^Call .*Pension benefit inquiry/);
    await page.click("#audit-all-button");
    await pollUntil(() => server.auditUrls.at(-1) === "?limit=50", { what: "the whole audit log" });

    // Both languages.
    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.equal(await call.locator("[data-action=barge]").textContent(), "强插");
    assert.equal(await page.locator('#queue-table tr[data-queue="all"] th').textContent(), "全部队列");
    assert.match(await call.textContent(), /养老保险待遇查询 · 养老保险/);
    assert.equal(await page.locator('#agents-table tr[data-agent-id="a-3"] td').nth(0).textContent(), "离开 · 用餐");
    assert.match(await page.getAttribute("#history-chart svg", "aria-label"), /当前排队 3 个/);

    assert.deepEqual(staff.errors, []);
  } finally {
    await staff.context.close();
  }
});

test("agent console: asking for help, its status, and who supports the call in which mode", async () => {
  let server;
  const agent = await openPage(browser, "consoles-agent", `${statics.base}/agent`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context, { user: AGENT });
  });
  const { page } = agent;
  try {
    await logIn(page, "agent1");
    await server.next("media_connect");
    server.send({ type: "media_state", state: "connected" });
    server.send({ type: "agent_state", state: "available", since_ms: Date.now() });
    server.send({ type: "queue_status", queues: [{ skill: "pension", waiting: 1, longest_wait_ms: 61_000, available_agents: 1, staffed_agents: 2 }] });
    const myQueue = page.locator('[data-testid=my-queues] tr[data-skill="pension"]');
    await myQueue.waitFor();
    assert.deepEqual(await myQueue.locator("td").allTextContents(), ["Pension insurance", "1", "1:01", "1 / 2"]);
    server.send({ type: "call_offered", call_id: "c-1", service: SERVICE, skill: "pension", priority: 0, transfers: 1, waited_ms: 1000, ring_timeout_ms: 15000 });
    await page.locator("#incoming-call").waitFor({ state: "visible" });
    assert.equal(await text(page, "#incoming-service"), "Pension benefit inquiry");
    assert.equal(await text(page, "#incoming-queue"), "Pension insurance · transferred 1×");
    await page.click("#accept-button");
    await server.next("accept");
    server.send({ type: "call_connected", call_id: "c-1", peer_name: "群众 Citizen" });
    await page.locator("#current-call").waitFor({ state: "visible" });
    assert.equal(await text(page, "#support-indicator"), "No supervisor on the call");
    assert.equal(await page.getAttribute("#support-indicator", "data-mode"), "none");
    assert.ok(await page.locator("#cancel-help-button").isHidden());

    await page.fill("#help-reason", "跨省转移政策 cross-region transfer rules");
    let from = server.sent.length;
    await page.click("#help-button");
    assert.deepEqual(await server.next("request_help", from), { type: "request_help", call_id: "c-1", reason: "跨省转移政策 cross-region transfer rules" });
    assert.ok(await page.locator("#help-button").isDisabled(), "one request at a time");
    server.send({ type: "help_status", call_id: "c-1", state: "pending" });
    await waitForState(page, "#help-status", "pending");
    assert.equal(await text(page, "#help-status"), "Help requested; waiting for a supervisor…");

    from = server.sent.length;
    await page.click("#cancel-help-button");
    assert.deepEqual(await server.next("cancel_help", from), { type: "cancel_help", call_id: "c-1" });
    server.send({ type: "help_status", call_id: "c-1", state: "cancelled" });
    await waitForState(page, "#help-status", "cancelled");
    assert.ok(await page.locator("#help-button").isEnabled(), "may ask again");

    from = server.sent.length;
    await page.click("#help-button");
    await server.next("request_help", from);
    server.send({ type: "help_status", call_id: "c-1", state: "accepted", staff_name: STAFF.display_name });
    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "whisper" }] });
    await page.locator('#support-indicator[data-mode="whisper"]').waitFor();
    assert.equal(await text(page, "#support-indicator"), "陈静 Chen Jing — whispering");
    assert.equal(await text(page, "#help-status"), "陈静 Chen Jing accepted and joined the call.");
    assert.equal(await page.locator("#support-indicator").evaluate((n) => n.closest("[aria-live]")?.getAttribute("aria-live")), "polite");

    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "barge" }] });
    await page.locator('#support-indicator[data-mode="barge"]').waitFor();
    assert.equal(await text(page, "#support-indicator"), "陈静 Chen Jing — barged in (three-way)");

    // The headset breaks: the console offers a new one by itself (one offer per failure) and
    // says it is reconnecting the call until the new one connects.
    from = server.sent.length;
    server.send({ type: "media_state", state: "failed" });
    await waitForState(page, "#call-link", "reconnecting");
    assert.equal(await page.getAttribute("#status", "data-state"), "call_reconnecting");
    assert.equal(await text(page, "#call-link"), "Reconnecting the call with 群众 Citizen…");
    await server.next("media_connect", from);
    server.send({ type: "media_state", state: "connected" });
    await waitForState(page, "#call-link", "connected");
    await waitForState(page, "#status", "connected");
    assert.ok(await page.locator("#call-link").isHidden());
    assert.equal(server.sent.slice(from).filter((m) => m.type === "media_connect").length, 1, "one new offer per failure");

    // The citizen's connection drops: a countdown in the call banner (not a live region: the
    // status line says it once), no transfer meanwhile; back, the call as before.
    server.send({ type: "peer_reconnecting", call_id: "c-1", peer: "citizen", reconnect_by_ms: Date.now() + 30_000 });
    await waitForState(page, "#call-link", "peer_reconnecting");
    const left = Number((await text(page, "#call-link")).match(/^The citizen's connection dropped; waiting up to (\d+) s for them to come back$/)?.[1]);
    assert.ok(left > 25 && left <= 30, `the countdown: ${left}`);
    assert.equal(await page.getAttribute("#status", "data-state"), "peer_reconnecting");
    assert.equal(await page.locator("#call-link").evaluate((n) => n.closest("[aria-live]")), null);
    assert.ok(await page.locator("#transfer-button").isDisabled(), "no transfer while the citizen is away");
    assert.ok(await page.locator("#hangup-button").isEnabled());
    server.send({ type: "peer_reconnected", call_id: "c-1", peer: "citizen" });
    await waitForState(page, "#call-link", "connected");
    assert.equal(await text(page, "#status"), "Connected with 群众 Citizen");
    assert.ok(await page.locator("#transfer-button").isEnabled());

    server.send({ type: "call_ended", call_id: "c-1", reason: "taken_over" });
    await waitForState(page, "#status", "ended");
    assert.equal(await text(page, "#status"), "Call ended (a supervisor took the call over).");
    assert.ok(await page.locator("#current-call").isHidden());
    // The part of the call the agent had is wrapped up, with the catalogue's outcomes.
    await page.locator("#wrap-up").waitFor({ state: "visible" });
    assert.match(await text(page, "#wrap-up-heading"), /Last call: Pension benefit inquiry/);
    assert.ok((await page.locator("#wrap-up-disposition option").count()) >= 5);
    await page.selectOption("#wrap-up-disposition", "resolved");
    await page.fill("#wrap-up-notes", "supervisor took over");
    from = server.sent.length;
    await page.click("#wrap-up-save");
    assert.deepEqual(await server.next("wrap_up", from), { type: "wrap_up", call_id: "c-1", disposition: "resolved", notes: "supervisor took over" });
    server.send({ type: "wrap_up_saved", call_id: "c-1" });
    await pollUntil(async () => (await text(page, "#wrap-up-status")) === "Wrap-up saved.", { what: "the saved note" });
    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal(await text(page, "#wrap-up-status"), "小结已保存。");
    assert.equal(await myQueue.locator("td").first().textContent(), "养老保险");
    assert.equal((await page.locator('#wrap-up-disposition option[value="resolved"]').textContent()), "已解答");
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
  }
});

test("hall: a supervisor who barges in or takes over is announced, monitoring never", async () => {
  let server;
  const hall = await openPage(browser, "consoles-hall", `${statics.base}/`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context, { user: null });
  });
  const { page } = hall;
  try {
    await page.click("#call-button");
    await page.click("#mic-continue");
    const call = await server.next("call");
    // Answer the offer with a second connection in the same page (its media never connects).
    const answer = await page.evaluate(async (offer) => {
      const pc = new RTCPeerConnection();
      await pc.setRemoteDescription({ type: "offer", sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      return pc.localDescription.sdp;
    }, call.sdp);
    server.send({ type: "call_queued", call_id: "c-1", sdp: answer });
    await waitForState(page, "#status", "queued");
    server.send({ type: "call_connected", call_id: "c-1", peer_name: AGENT.display_name });
    await waitForState(page, "#status", "connected");

    // An empty list (the server's word after monitor or whisper) says nothing when no
    // supervisor was announced. The page handles messages in order: every change the status
    // line sees until the barge that follows is announced is recorded.
    await page.evaluate(() => {
      const line = document.getElementById("status");
      window.statusChanges = [];
      new MutationObserver(() => window.statusChanges.push(line.dataset.state)).observe(line, {
        attributes: true,
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    server.send({ type: "support_changed", call_id: "c-1", supporters: [] });
    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "barge" }] });
    await waitForState(page, "#status", "supervisor_joined");
    assert.deepEqual(
      [...new Set(await page.evaluate(() => window.statusChanges))],
      ["supervisor_joined"],
      "the empty list changed nothing",
    );
    assert.equal(await text(page, "#status"), "A supervisor has joined the call.");
    assert.equal(await page.getAttribute("#status", "aria-live"), "polite");

    server.send({ type: "support_changed", call_id: "c-1", supporters: [{ user_id: STAFF.id, name: STAFF.display_name, mode: "take_over" }] });
    await waitForState(page, "#status", "supervisor_took_over");
    assert.equal(await text(page, "#status"), "A supervisor has taken over your call.");
    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal(await text(page, "#status"), "主管已接管您的通话。");
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});
