// "A citizen is never left with nothing" (issue 6) against a scripted server: the hall's other
// ways to get help (the panel brought forward when a call is turned away, a text message and its
// ticket, a voice message, the assistant), the rating after an answered call, the ticket page
// and the staff inbox and follow-ups. `/ws` and `/api/*` are played by the test (Playwright's
// routeWebSocket and route), so every message arrives exactly when the test wants it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFile } from "node:fs/promises";
import { launchBrowser, openPage, pollUntil, startStaticServer, waitForLang, waitForState } from "./harness.mjs";

const CATALOGUE = await readFile(new URL("./fixtures/catalogue.json", import.meta.url), "utf8");
const STAFF = { id: "s-1", username: "staff1", display_name: "陈静 Chen Jing", role: "staff" };
const SHOTS = process.env.VOICEDESK_SHOTS || "/tmp";
const PHONE = { viewport: { width: 360, height: 740 } };

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
 * Plays the server for one context: `/api/catalogue`, `/api/login`/`me` (as `user`), any other
 * `/api/*` through `api(method, path, body, url)` (returning `[status, json]`, or null for 404),
 * and `/ws`, which greets with `welcome`. Returns `{ sent, send, next, requests, drop }`.
 */
async function scriptedServer(context, { user = null, api = () => null } = {}) {
  const state = { loggedIn: false, socket: null, sent: [], requests: [] };
  await context.route("**/api/**", async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    const json = (status, body) =>
      route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
    const body = request.postData() ? JSON.parse(request.postData()) : null;
    state.requests.push({ method: request.method(), path: url.pathname, search: url.search, body });
    switch (url.pathname) {
      case "/api/catalogue":
        return route.fulfill({ status: 200, contentType: "application/json", body: CATALOGUE });
      case "/api/login":
        state.loggedIn = true;
        return json(200, { user });
      case "/api/me":
        return state.loggedIn && user ? json(200, { user }) : json(401, { code: "session_expired", message: "no session" });
      case "/api/audit":
        return json(200, { entries: [] });
      default: {
        const answer = await api(request.method(), url.pathname, body, url);
        return answer ? json(...answer) : json(404, { code: "not_found", message: url.pathname });
      }
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
    requests: state.requests,
    send: (msg) => state.socket.send(JSON.stringify(msg)),
    drop: () => state.socket.close(),
    next: (type, from = 0) =>
      pollUntil(() => state.sent.slice(from).find((m) => m.type === type), { what: `a ${type} message`, timeoutMs: 10_000 }),
  };
}

function text(page, selector) {
  return page.locator(selector).first().textContent().then((s) => s.trim());
}

async function noOverflow(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} is ${overflow} px wider than the screen`);
}

/** Answers the page's offer with a second connection in the same page (never connects). */
function answerFor(page, offer) {
  return page.evaluate(async (offer) => {
    const pc = new RTCPeerConnection();
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    return pc.localDescription.sdp;
  }, offer);
}

test("hall: a call turned away (closed) brings the panel forward; a text message gets its ticket", async () => {
  let server;
  const hall = await openPage(browser, "help-hall-closed", `${statics.base}/`, { ...PHONE, locale: "zh-CN" }, async (context) => {
    server = await scriptedServer(context);
  });
  const { page } = hall;
  try {
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    await page.selectOption("#service-select", "pension_transfer");
    assert.equal(await page.inputValue("#message-service"), "pension_transfer", "the message follows the call's service");
    await page.click("#call-button");
    await page.click("#mic-continue");
    await server.next("call");
    const opens = Date.UTC(2026, 11, 1, 1, 0);
    server.send({ type: "call_ended", call_id: "c-closed", reason: "closed", opens_at_ms: opens });
    await page.locator("#other-ways-reason").waitFor({ state: "visible" });
    assert.equal(await page.getAttribute("#other-ways", "data-reason"), "closed");
    assert.match(await text(page, "#other-ways-reason"), /不在服务时间内.*下次开放时间/);
    assert.equal(await page.evaluate(() => document.activeElement.id), "other-ways-heading", "the focus moves to the panel");
    assert.equal(await page.locator("#rating-form").isVisible(), false, "no rating for a call nobody answered");

    // The counter follows the text.
    await page.fill("#message-name", "张先生");
    await page.fill("#message-phone", "138 0000 0000");
    await page.fill("#message-body", "我想咨询跨省转移养老保险关系需要多久。");
    assert.equal(await text(page, "#message-counter"), "已输入 19 / 2000 字");
    assert.equal(await page.getAttribute("#message-body", "maxlength"), "2000");
    await page.screenshot({ path: `${SHOTS}/hall-panel-closed.png`, fullPage: true });

    // The first attempt is lost with the connection: the retry carries the same client id.
    const from = server.sent.length;
    await page.click("#message-submit");
    const first = await server.next("leave_message", from);
    assert.match(first.client_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      { ...first, client_id: undefined },
      { type: "leave_message", client_id: undefined, service: "pension_transfer", name: "张先生", phone: "138 0000 0000", body: "我想咨询跨省转移养老保险关系需要多久。" },
    );
    assert.equal(first.call_id, undefined, "no call: none is named");
    server.drop();
    await waitForState(page, "#message-status", "retrying");
    const again = await pollUntil(
      () => server.sent.slice(from + 1).find((m) => m.type === "leave_message"),
      { what: "the message sent again after the reconnect", timeoutMs: 15_000 },
    );
    assert.equal(again.client_id, first.client_id, "the retry is the same message");
    const due = Date.UTC(2026, 11, 2, 9, 0);
    server.send({ type: "message_saved", client_id: first.client_id, ticket: "M20261130-0007", code: "K7Q9-2MXP", due_at_ms: due });
    await page.locator("#message-result").waitFor({ state: "visible" });
    assert.equal(await text(page, "#result-ticket"), "M20261130-0007");
    assert.equal(await text(page, "#result-code"), "K7Q9-2MXP");
    assert.match(await text(page, "#message-result"), /请记下/);
    assert.match(await text(page, "#result-due"), /前答复/);
    assert.equal(await page.getAttribute("#result-link", "href"), "/ticket?t=M20261130-0007&c=K7Q9-2MXP");
    assert.equal(await page.evaluate(() => document.activeElement.id), "message-result");
    await noOverflow(page, "the hall with the ticket");
    await page.screenshot({ path: `${SHOTS}/hall-ticket-saved.png`, fullPage: true });

    // A new message gets a new client id.
    await page.click("#message-another");
    await page.fill("#message-body", "再问一次");
    const from2 = server.sent.length;
    await page.click("#message-submit");
    const second = await server.next("leave_message", from2);
    assert.notEqual(second.client_id, first.client_id);
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});

test("hall: queue full and no agents explain themselves; while queued a message names the call, which ends message_left", async () => {
  let server;
  const hall = await openPage(browser, "help-hall-queued", `${statics.base}/`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context);
  });
  const { page } = hall;
  try {
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    for (const [reason, words] of [["queue_full", /queue is full/], ["no_agents", /No agent for this service/]]) {
      const from = server.sent.length;
      await page.click("#call-button");
      // The microphone is explained once per tab, before the first call.
      if (reason === "queue_full") await page.click("#mic-continue");
      await server.next("call", from);
      server.send({ type: "call_ended", call_id: `c-${reason}`, reason });
      await pollUntil(async () => (await page.getAttribute("#other-ways", "data-reason")) === reason, { what: reason });
      assert.match(await text(page, "#other-ways-reason"), words);
      await waitForState(page, "#status", "ended");
    }

    // Queued: the citizen's own choice keeps the place until the message is sent.
    const from = server.sent.length;
    await page.click("#call-button");
    const call = await server.next("call", from);
    server.send({ type: "call_queued", call_id: "c-q", sdp: await answerFor(page, call.sdp) });
    await waitForState(page, "#status", "queued");
    await page.click("#other-ways-button");
    assert.equal(await page.getAttribute("#other-ways", "data-reason"), "queued");
    assert.match(await text(page, "#other-ways-reason"), /place is kept until you send/);
    assert.equal(await page.getAttribute("#status", "data-state"), "queued", "still queued");

    // Past the queue's maximum wait: the panel again, and the call still waits.
    server.send({ type: "wait_limit_reached", call_id: "c-q", waited_ms: 600_000 });
    await pollUntil(async () => (await page.getAttribute("#other-ways", "data-reason")) === "wait_limit", { what: "wait limit" });
    assert.match(await text(page, "#other-ways-reason"), /keep waiting/);
    assert.equal(await page.getAttribute("#status", "data-state"), "queued");

    await page.fill("#message-body", "Please call me back about my pension transfer.");
    const at = server.sent.length;
    await page.click("#message-submit");
    const msg = await server.next("leave_message", at);
    assert.equal(msg.call_id, "c-q", "the queued call is named");
    server.send({ type: "message_saved", client_id: msg.client_id, ticket: "M20261130-0008", code: "AB12-CD34", due_at_ms: Date.now() + 86_400_000 });
    server.send({ type: "call_ended", call_id: "c-q", reason: "message_left" });
    await waitForState(page, "#status", "ended");
    assert.match(await text(page, "#status"), /you left a message/);
    assert.equal(await text(page, "#result-ticket"), "M20261130-0008");
    assert.equal(await page.locator("#rating-form").isVisible(), false);
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});

test("hall: a voice message from the queued call and one over a new connection; cancel keeps nothing", async () => {
  let server;
  const hall = await openPage(browser, "help-hall-voice", `${statics.base}/`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context);
  });
  const { page } = hall;
  try {
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    // Without a call: a new audio offer.
    await page.click("#voice-start");
    await page.click("#mic-continue");
    const start = await server.next("start_voice_message");
    assert.match(start.sdp, /m=audio/);
    assert.equal(start.call_id, undefined);
    server.send({ type: "voice_recording", max_ms: 120_000, sdp: await answerFor(page, start.sdp) });
    await page.locator("#voice-recording").waitFor({ state: "visible" });
    assert.match(await text(page, "#voice-timer"), /Recording 0:0\d, (2:00|1:5\d) left/);
    assert.equal(await page.evaluate(() => document.activeElement.id), "voice-stop");
    await page.fill("#message-phone", "138 0000 0000");
    await page.click("#voice-stop");
    const finish = await server.next("finish_voice_message");
    assert.match(finish.client_id, /^[0-9a-f-]{36}$/);
    assert.equal(finish.phone, "138 0000 0000");
    server.send({ type: "message_saved", client_id: finish.client_id, ticket: "M20261130-0009", code: "VV11-WW22", due_at_ms: Date.now() + 86_400_000 });
    await page.locator("#message-result").waitFor({ state: "visible" });
    assert.equal(await text(page, "#result-ticket"), "M20261130-0009");
    assert.equal(await page.evaluate(() => window.voicedesk.pc.signalingState), "closed", "the voice leg is closed");

    // Queued: the existing connection is recorded, no new offer.
    await page.click("#message-another");
    let from = server.sent.length;
    await page.click("#call-button");
    const call = await server.next("call", from);
    server.send({ type: "call_queued", call_id: "c-v", sdp: await answerFor(page, call.sdp) });
    await waitForState(page, "#status", "queued");
    from = server.sent.length;
    await page.click("#voice-start");
    const queuedStart = await server.next("start_voice_message", from);
    assert.equal(queuedStart.call_id, "c-v");
    assert.equal(queuedStart.sdp, undefined, "no new negotiation");
    server.send({ type: "voice_recording", max_ms: 60_000 });
    await page.locator("#voice-recording").waitFor({ state: "visible" });
    await page.click("#voice-cancel");
    await server.next("cancel_voice_message", from);
    server.send({ type: "voice_message_cancelled" });
    await waitForState(page, "#message-status", "cancelled");
    assert.equal(await page.locator("#voice-recording").isVisible(), false);
    assert.equal(await page.getAttribute("#status", "data-state"), "queued", "the call goes on waiting");
    assert.notEqual(await page.evaluate(() => window.voicedesk.pc.signalingState), "closed", "the call's connection stays");
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});

test("hall: the assistant answers with steps and suggestions, and hands off to an agent", async () => {
  let server;
  const hall = await openPage(browser, "help-hall-assistant", `${statics.base}/`, { ...PHONE, locale: "zh-CN" }, async (context) => {
    server = await scriptedServer(context);
  });
  const { page } = hall;
  try {
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    assert.equal(await page.getAttribute("#assistant-log", "aria-live"), "polite");
    // On a phone the list's areas start folded: the menu opens the self-service area.
    await page.click("[data-testid=menu-self_service]");
    await page.fill("#assistant-input", "养老保险转到外地要多久?");
    await page.press("#assistant-input", "Enter");
    const ask = await server.next("ask");
    assert.equal(ask.text, "养老保险转到外地要多久?");
    server.send({
      type: "answer",
      question: ask.text,
      best: {
        article_id: "pension_transfer",
        title: "养老保险关系跨地区转移",
        body: "由转入地社保经办机构受理。\n1. 向转入地社保经办机构提出申请,15 个工作日内审核。\n2. 转出地 15 个工作日内办理转出手续。\n3. 转入地 15 个工作日内办结转入。",
        service: "pension_transfer",
      },
      suggestions: [
        { article_id: "medical_transfer", title: "医疗保险关系转移", body: "1. 办理转出。\n2. 办理转入。", service: "medical_transfer" },
      ],
      confident: true,
      offer_human: false,
    });
    const answer = page.locator("[data-testid=assistant-answer]").first();
    await answer.waitFor();
    assert.equal(await text(page, ".chat-article h4"), "养老保险关系跨地区转移");
    assert.equal(await page.locator(".chat-article ol li").count(), 3, "numbered steps");
    assert.match(await text(page, ".chat-article ol li"), /^向转入地/);
    await page.screenshot({ path: `${SHOTS}/hall-assistant.png`, fullPage: true });
    await page.click(".chat-suggestions button");
    await pollUntil(async () => (await page.locator(".chat-article").count()) === 2, { what: "the suggested article" });
    await noOverflow(page, "the hall with the assistant");

    // "Leave a message" selects the answer's service and goes to the message.
    await answer.locator("button[data-action=leave]").click();
    assert.equal(await page.evaluate(() => document.activeElement.id), "message-body");
    assert.equal(await page.inputValue("#message-service"), "pension_transfer");

    // "Talk to an agent" calls the answer's service like the Call button.
    await answer.locator("button[data-action=talk]").click();
    await page.click("#mic-continue");
    const call = await server.next("call");
    assert.equal(call.service, "pension_transfer");
    assert.equal(await page.inputValue("#service-select"), "pension_transfer");
    server.send({ type: "call_queued", call_id: "c-a", sdp: await answerFor(page, call.sdp) });
    await waitForState(page, "#status", "queued");
    // While the call lasts the assistant is quiet.
    await page.fill("#assistant-input", "还有问题");
    await page.click("#assistant-ask");
    await server.next("ask", server.sent.indexOf(call));
    server.send({ type: "error", code: "invalid_state", message: "in a call", request_type: "ask" });
    await pollUntil(async () => (await page.locator(".chat-line[data-kind=error]").count()) === 1, { what: "the pause" });
    assert.match(await text(page, ".chat-line[data-kind=error]"), /通话进行中/);
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});

test("hall: every answered call is rated on five levels, by keyboard", async () => {
  let server;
  const hall = await openPage(browser, "help-hall-rating", `${statics.base}/`, { locale: "en-US" }, async (context) => {
    server = await scriptedServer(context);
  });
  const { page } = hall;
  try {
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    await page.click("#call-button");
    await page.click("#mic-continue");
    const call = await server.next("call");
    server.send({ type: "call_queued", call_id: "c-r", sdp: await answerFor(page, call.sdp) });
    await waitForState(page, "#status", "queued");
    server.send({ type: "call_connected", call_id: "c-r", peer_name: "王芳 Wang Fang" });
    await waitForState(page, "#status", "connected");
    server.send({ type: "call_ended", call_id: "c-r", reason: "agent_hang_up" });
    await page.locator("#rating-form").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => document.activeElement.id), "rating-heading");
    const labels = await page.locator("#rating-levels label").allTextContents();
    assert.deepEqual(labels.map((s) => s.trim()), ["Very satisfied", "Satisfied", "Fairly satisfied", "Dissatisfied", "Very dissatisfied"]);
    // Nothing chosen: told so, nothing sent.
    await page.click("#rating-submit");
    assert.match(await text(page, "#rating-error"), /choose/);
    assert.equal(server.sent.filter((m) => m.type === "rate").length, 0);
    // Keyboard: Tab into the group, arrows move the choice.
    await page.focus("#rating-level-5");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.isChecked("#rating-level-2"), true);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "rating-comment");
    await page.keyboard.type("Waited too long");
    await page.screenshot({ path: `${SHOTS}/hall-rating.png`, fullPage: true });
    await page.click("#rating-submit");
    const rate = await server.next("rate");
    assert.deepEqual(rate, { type: "rate", call_id: "c-r", level: 2, comment: "Waited too long" });
    server.send({ type: "rating_saved", subject: "c-r", level: 2 });
    await page.locator("#rating-thanks").waitFor({ state: "visible" });
    assert.equal(await page.locator("#rating-form").isVisible(), false);
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
  }
});

test("ticket page: prefilled from the link, one neutral error, the reply, and the rating", async () => {
  const now = Date.UTC(2026, 10, 30, 2, 0);
  const ticket = {
    ticket: "M20261130-0007",
    kind: "text",
    state: "answered",
    service: "pension_transfer",
    created_at_ms: now,
    due_at_ms: now + 2 * 86_400_000,
    body: "我想咨询跨省转移养老保险关系需要多久。",
    reply: "您好,跨省转移分三步:\n1. 向转入地提出申请。\n2. 转出地办理转出。\n3. 转入地办结。",
    replied_at_ms: now + 3_600_000,
  };
  let server;
  const api = (method, path, body, url) => {
    if (method === "GET" && path === `/api/tickets/${ticket.ticket}`) {
      return url.searchParams.get("code") === "K7Q9-2MXP" ? [200, ticket] : [404, { code: "not_found", message: "no such ticket" }];
    }
    if (method === "GET" && path.startsWith("/api/tickets/")) return [404, { code: "not_found", message: "no such ticket" }];
    if (method === "POST" && path === `/api/tickets/${ticket.ticket}/rating`) {
      if (body.code !== "K7Q9-2MXP") return [404, { code: "not_found", message: "no" }];
      ticket.rating = { level: body.level, comment: body.comment ?? null };
      return [200, { rating: ticket.rating }];
    }
    return null;
  };
  const view = await openPage(browser, "help-ticket", `${statics.base}/ticket?t=M20261130-0007&c=WRONG-CODE`, { ...PHONE, locale: "zh-CN" }, async (context) => {
    server = await scriptedServer(context, { api });
  });
  const { page } = view;
  try {
    // Prefilled from the link and looked up at once: a wrong code says nothing about the ticket.
    await waitForLang(page);
    assert.equal(await page.inputValue("#ticket-number"), "M20261130-0007");
    await page.locator("#lookup-error").waitFor({ state: "visible" });
    const wrongCode = await text(page, "#lookup-error");
    assert.equal(wrongCode, "票号或查询码不正确，请核对后重试。");
    assert.equal(await page.locator("#ticket-details").isVisible(), false);
    await page.fill("#ticket-number", "M20990101-0001");
    await page.fill("#ticket-code", "K7Q9-2MXP");
    await page.click("#lookup-submit");
    // The click starts the lookup at once (`looking`); its answer ends it (`failed`).
    await waitForState(page, "#status", "failed");
    assert.ok(server.requests.some((r) => r.path === "/api/tickets/M20990101-0001"), "the second lookup was asked");
    assert.equal(await text(page, "#lookup-error"), wrongCode, "a wrong ticket reads the same");
    // Missing fields are said before anything is asked.
    await page.fill("#ticket-code", "");
    await page.click("#lookup-submit");
    assert.equal(await text(page, "#lookup-error"), "请填写票号和查询码。");

    await page.fill("#ticket-number", "M20261130-0007");
    await page.fill("#ticket-code", "K7Q9-2MXP");
    await page.press("#ticket-code", "Enter");
    await page.locator("#ticket-details").waitFor({ state: "visible" });
    assert.equal(await page.locator("#lookup-error").isVisible(), false);
    assert.equal(await text(page, "#ticket-state"), "已答复");
    assert.equal(await text(page, "#ticket-service"), "养老保险关系跨地区转移");
    assert.equal(await text(page, "#ticket-body"), ticket.body);
    assert.equal(await page.locator("#ticket-reply ol li").count(), 3);
    assert.equal(await page.evaluate(() => document.activeElement.id), "ticket-heading");
    await page.locator("#rating-form").waitFor({ state: "visible" });
    await noOverflow(page, "the ticket page");
    await page.screenshot({ path: `${SHOTS}/ticket-page.png`, fullPage: true });

    await page.check("#rating-level-4");
    await page.fill("#rating-comment", "答复很清楚");
    await page.click("#rating-submit");
    await page.locator("#rating-given").waitFor({ state: "visible" });
    const post = server.requests.find((r) => r.method === "POST");
    assert.deepEqual(post.body, { code: "K7Q9-2MXP", level: 4, comment: "答复很清楚" });
    assert.match(await text(page, "#rating-given"), /感谢您的评价.*满意/);
    assert.equal(await page.locator("#rating-form").isVisible(), false);
    await page.selectOption("#lang-switch", "en");
    await page.locator(`html[lang="en"]`).waitFor({ state: "attached" });
    assert.equal(await text(page, "#ticket-state"), "Answered");
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.screenshot({ path: `${SHOTS}/ticket-page-rated-en.png`, fullPage: true });
    assert.deepEqual(view.errors, []);
  } finally {
    await view.context.close();
  }
});

test("staff console: the inbox (filters, overdue rows, text and voice, assign, reply, close) and the follow-ups", async () => {
  const now = Date.now();
  const base = { name: null, phone: null, body: null, voice_ms: null, reason: null, assigned_to: null, assigned_name: null, reply: null, replied_at_ms: null, replied_by: null };
  const messages = [
    { ...base, id: "m-1", ticket: "M20261126-0003", kind: "text", state: "new", service: "pension_transfer", name: "张先生", phone: "138 0000 0000", body: "我想咨询跨省转移养老保险关系需要多久。", reason: "closed", created_at_ms: now - 4 * 86_400_000, due_at_ms: now - 86_400_000, overdue: true },
    { ...base, id: "m-2", ticket: "M20261130-0007", kind: "voice", state: "new", service: "medical_reimbursement", voice_ms: 42_000, reason: "queue_full", created_at_ms: now - 3_600_000, due_at_ms: now + 2 * 86_400_000, overdue: false },
    { ...base, id: "m-3", ticket: "M20261129-0001", kind: "text", state: "answered", service: "pension_benefit_inquiry", body: "问题", reply: "答复", replied_at_ms: now - 60_000, replied_by: STAFF.id, assigned_to: STAFF.id, assigned_name: STAFF.display_name, created_at_ms: now - 86_400_000, due_at_ms: now + 86_400_000, overdue: false },
  ];
  const followUps = [
    { subject_kind: "call", subject_id: "2b8e6f0e-5d1c-4c55-9a8e-3f9d2c1a7b10", level: 1, comment: "等了半小时", created_at_ms: now - 7_200_000, state: "open", handled_at_ms: null, handled_by: null, note: null },
    { subject_kind: "message", subject_id: "M20261129-0001", level: 2, comment: null, created_at_ms: now - 3_600_000, state: "open", handled_at_ms: null, handled_by: null, note: null },
  ];
  const api = (method, path, body, url) => {
    if (method === "GET" && path === "/api/inbox") {
      const wanted = messages
        .filter((m) => !url.searchParams.get("state") || m.state === url.searchParams.get("state"))
        .filter((m) => url.searchParams.get("overdue") !== "true" || m.overdue);
      return [200, { now_ms: now, messages: wanted }];
    }
    const action = /^\/api\/inbox\/([^/]+)\/(assign|reply|close)$/.exec(path);
    if (method === "POST" && action) {
      const m = messages.find((x) => x.id === action[1]);
      if (!m) return [404, { code: "not_found", message: "no such message" }];
      if (action[2] === "assign") Object.assign(m, { state: "assigned", assigned_to: STAFF.id, assigned_name: STAFF.display_name });
      if (action[2] === "reply") Object.assign(m, { state: "answered", reply: body.reply, replied_at_ms: Date.now(), replied_by: STAFF.id });
      if (action[2] === "close") Object.assign(m, { state: "closed" });
      return [200, { message: m }];
    }
    if (method === "GET" && path === "/api/follow-ups") return [200, { follow_ups: followUps.filter((f) => f.state === "open") }];
    const handled = /^\/api\/follow-ups\/(call|message)\/([^/]+)\/handled$/.exec(path);
    if (method === "POST" && handled) {
      const f = followUps.find((x) => x.subject_kind === handled[1] && x.subject_id === decodeURIComponent(handled[2]));
      Object.assign(f, { state: "handled", note: body.note, handled_by: STAFF.id, handled_at_ms: Date.now() });
      return [200, { follow_up: f }];
    }
    return null;
  };
  let server;
  const staff = await openPage(browser, "help-staff-inbox", `${statics.base}/staff`, { locale: "en-US", viewport: { width: 1280, height: 900 } }, async (context) => {
    server = await scriptedServer(context, { user: STAFF, api });
    // The voice message plays from the API: a short valid Ogg file is not needed for the test,
    // only that the element asks for the right address.
  });
  const { page } = staff;
  try {
    await page.fill("#login-username", "staff1");
    await page.fill("#login-password", "demo");
    await page.click("#login-submit");
    await page.locator("#inbox-table tbody tr[data-id]").first().waitFor();
    assert.equal(await page.locator("#inbox-table tbody tr[data-id]").count(), 3);
    // Overdue first and marked in words, not by colour alone.
    const first = page.locator("#inbox-table tbody tr").first();
    assert.equal(await first.getAttribute("data-id"), "m-1");
    assert.match(await first.textContent(), /Overdue/);
    assert.equal(await page.locator("#inbox-table tbody tr.overdue").count(), 1);
    assert.match(await first.textContent(), /Cross-region|养老|pension/i);
    assert.match(await text(page, "#inbox-count"), /3 messages, 1 overdue/);

    // Filters: overdue only, then a state.
    await page.check("#inbox-overdue");
    await pollUntil(async () => (await page.locator("#inbox-table tbody tr[data-id]").count()) === 1, { what: "overdue only" });
    assert.ok(server.requests.some((r) => r.path === "/api/inbox" && r.search.includes("overdue=true")));
    await page.uncheck("#inbox-overdue");
    await page.selectOption("#inbox-state", "answered");
    await pollUntil(async () => (await page.locator("#inbox-table tbody tr[data-id]").count()) === 1, { what: "answered only" });
    assert.ok(server.requests.some((r) => r.path === "/api/inbox" && r.search.includes("state=answered")));
    await page.selectOption("#inbox-state", "");
    await pollUntil(async () => (await page.locator("#inbox-table tbody tr[data-id]").count()) === 3, { what: "all again" });

    // The voice message: an audio element on the API's address.
    await page.click('button[data-open="m-2"]');
    await page.locator("#inbox-detail").waitFor({ state: "visible" });
    assert.equal(await page.getAttribute("#detail-voice", "src"), "/api/inbox/m-2/voice");
    assert.equal(await page.locator("#detail-voice").isVisible(), true);
    assert.match(await text(page, "#detail-body"), /0:42/);

    // The overdue text message: assign, reply, close.
    await page.click('button[data-open="m-1"]');
    assert.equal(await page.evaluate(() => document.activeElement.id), "inbox-detail-heading");
    assert.equal(await text(page, "#detail-body"), "我想咨询跨省转移养老保险关系需要多久。");
    assert.equal(await page.locator("#detail-voice").isVisible(), false);
    assert.equal(await text(page, "#detail-name"), "张先生");
    assert.match(await text(page, "#detail-state"), /Overdue/);
    await page.screenshot({ path: `${SHOTS}/staff-inbox.png`, fullPage: true });
    await page.click("#inbox-assign");
    await pollUntil(async () => (await text(page, "#detail-assignee")) === STAFF.display_name, { what: "assigned" });
    assert.equal(await text(page, "#detail-status"), "Assigned to you.");
    await page.click("#inbox-send-reply");
    assert.match(await text(page, "#detail-error"), /write the reply/);
    await page.fill("#inbox-reply", "您好,跨省转移分三步:\n1. 向转入地提出申请。\n2. 转出地办理转出。\n3. 转入地办结。");
    await page.click("#inbox-send-reply");
    await pollUntil(async () => (await page.getAttribute("#inbox-detail", "data-state")) === "answered", { what: "answered" });
    const reply = server.requests.find((r) => r.path === "/api/inbox/m-1/reply");
    assert.match(reply.body.reply, /^您好/);
    assert.equal(await page.locator("#detail-replied ol li").count(), 3);
    await page.click("#inbox-close");
    await pollUntil(async () => (await page.getAttribute("#inbox-detail", "data-state")) === "closed", { what: "closed" });
    assert.equal(await page.locator("#reply-form").isVisible(), false);

    // Follow-ups: the low ratings, marked handled with a note.
    await page.locator("#followups-table tbody tr[data-key]").first().waitFor();
    assert.equal(await page.locator("#followups-table tbody tr[data-key]").count(), 2);
    assert.match(await text(page, "#followups-table tbody tr"), /Call 2b8e6f0e.*Very dissatisfied \(1\).*等了半小时/s);
    const note = page.locator('#followups-table input[data-note="call/2b8e6f0e-5d1c-4c55-9a8e-3f9d2c1a7b10"]');
    assert.match(await note.getAttribute("aria-label"), /Note on Call 2b8e6f0e/);
    await note.fill("回电致歉,已解释排队原因");
    await page.screenshot({ path: `${SHOTS}/staff-followups.png`, fullPage: true });
    await page.click('#followups-table button[data-handle="call/2b8e6f0e-5d1c-4c55-9a8e-3f9d2c1a7b10"]');
    await pollUntil(async () => (await page.locator("#followups-table tbody tr[data-key]").count()) === 1, { what: "handled" });
    const handled = server.requests.find((r) => r.path.endsWith("/handled"));
    assert.deepEqual(handled.body, { note: "回电致歉,已解释排队原因" });
    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal(await text(page, "#inbox-heading"), "留言箱");
    assert.match(await text(page, "#followups-table tbody tr"), /留言 M20261129-0001/);

    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, "the staff console with the inbox");
    await page.screenshot({ path: `${SHOTS}/staff-inbox-phone.png`, fullPage: true });
    assert.deepEqual(staff.errors, []);
  } finally {
    await staff.context.close();
  }
});
