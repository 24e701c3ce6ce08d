// Queueing end to end against the real server (`voicedesk --demo`, every queue open, the demo
// agents with every skill), Chromium with fake microphones: a citizen waits in a service's
// queue hearing the hold tune and the position while the agent is away and sees the queue in
// "my queues"; the agent becomes available, is offered the call with its service and queue,
// answers, hangs up and wraps up. Then a queued citizen reloads the hall: the page rejoins the
// parked call by itself, keeps the place, and the agent answers that same call. Then a citizen
// reloads during an answered call: the page takes the call back with a new offer while the
// agent's console shows it waits for the citizen. Last, the agent reloads the console during an
// answered call: it comes back to the call by itself with a new headset.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  pollUntil,
  slotBytesReceived,
  startServer,
  waitForState,
} from "./harness.mjs";

/** Bytes slot 0 must gain to count as "audio flows" (Opus sends several kB per second). */
const FLOWING_BYTES = 2000;

/** A service of the catalogue, its English name and its queue (skill) as the console shows it. */
const SERVICE = "pension_benefit_inquiry";
const SERVICE_NAME = "Pension benefit inquiry";
const SKILL = "pension";
const SKILL_NAME = "Pension insurance";

let server;
let browser;
let agent;

before(async () => {
  server = await startServer("queueing");
  browser = await launchBrowser();
  agent = await openPage(browser, "queueing-agent", `${server.url}/agent`, { locale: "en-US" });
  recordFrames(agent);
  // agent1 signs in; the headset comes up on its own; the agent stays away for now.
  await agent.page.fill("#login-username", "agent1");
  await agent.page.fill("#login-password", DEMO_PASSWORD);
  await agent.page.click("#login-submit");
  await waitForState(agent.page, "#media-state", "connected", 20_000);
  const state = await waitForState(agent.page, "#agent-state", ["away", "available"]);
  if (state !== "away") {
    await agent.page.click("#away-button");
    await waitForState(agent.page, "#agent-state", "away");
  }
});

after(async () => {
  await agent?.context.close();
  await browser?.close();
  await server?.stop();
});

/**
 * Keeps every server message the page's WebSockets receive, in `opened.frames` (parsed), across
 * reloads: the tests read call ids from them without the pages having to show ids.
 */
function recordFrames(opened) {
  opened.frames = [];
  opened.page.on("websocket", (ws) => {
    ws.on("framereceived", ({ payload }) => {
      try {
        opened.frames.push(JSON.parse(payload));
      } catch {
        // Not JSON: not a protocol message.
      }
    });
  });
  return opened;
}

/** The newest received message of `type` (matching `where`), waited for. */
function nextFrame(opened, type, where = () => true, from = 0) {
  return pollUntil(
    () => opened.frames.slice(from).findLast((m) => m.type === type && where(m)),
    { what: `a ${type} message`, timeoutMs: 15_000 },
  );
}

/**
 * Records in `window.voicedeskStates` every `data-state` change of the elements with the ids
 * `ids` (`{ id, state, text }`), from now on (or, with `initScript`, from the next load on:
 * the observer is installed before the page's scripts run).
 */
async function recordStates(page, ids, { initScript = false } = {}) {
  const install = (ids) => {
    window.voicedeskStates = [];
    new MutationObserver((records) => {
      for (const record of records) {
        const node = record.target;
        if (ids.includes(node.id)) {
          window.voicedeskStates.push({ id: node.id, state: node.dataset.state, text: node.textContent });
        }
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
  };
  if (initScript) await page.addInitScript(install, ids);
  else await page.evaluate(install, ids);
}

/** The `data-state` changes recorded by `recordStates` for the element `id`. */
async function recordedStates(page, id) {
  return (await page.evaluate(() => window.voicedeskStates ?? [])).filter((s) => s.id === id);
}

/** `m:ss` as seconds. */
function seconds(text) {
  const [minutes, secs] = text.split(":").map(Number);
  return minutes * 60 + secs;
}

/** Waits until slot 0 of the page's connection gained FLOWING_BYTES; returns a diagnostic. */
async function assertSlot0Grows(page, who) {
  const startedAt = Date.now();
  const start = await slotBytesReceived(page, 0);
  assert.equal(start.closed, false, `${who}: the connection is closed`);
  const grown = await pollUntil(
    async () => {
      const now = await slotBytesReceived(page, 0);
      return now.bytes - start.bytes >= FLOWING_BYTES ? now : null;
    },
    { timeoutMs: 8_000, what: `${who}'s slot 0 to receive ${FLOWING_BYTES} more audio bytes (from ${start.bytes})` },
  );
  return `${grown.bytes - start.bytes} bytes in ${Date.now() - startedAt} ms`;
}

/** Opens the hall in English, picks `SERVICE` and calls; resolves once queued. */
async function citizenCalls(name) {
  const citizen = recordFrames(await openPage(browser, name, `${server.url}/`, { locale: "en-US" }));
  const { page } = citizen;
  await page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
  assert.ok(await page.locator("#service-select").isEnabled(), "the list is usable once loaded");
  await page.selectOption("#service-select", SERVICE);
  assert.match(await page.textContent("#service-hours"), /^Service hours: .*\(open now\)$/);
  await page.click("#call-button");
  await page.click("#mic-continue");
  await waitForState(page, "#status", "queued");
  return citizen;
}

/** The citizen's status shows queue position `position` (state `queued`). */
async function assertPosition(page, position) {
  await page.locator(`#status[data-state="queued"][data-position="${position}"]`).waitFor({ timeout: 15_000 });
  assert.match(await page.textContent("#status"), new RegExp(`^In the queue: position ${position}\\b`));
}

/** The agent's "my queues" row of `SKILL`. */
function myQueueRow() {
  return agent.page.locator(`[data-testid=my-queues] tr[data-skill="${SKILL}"]`);
}

async function assertWaitingInMyQueue(waiting) {
  await pollUntil(
    async () => (await myQueueRow().count()) === 1 && (await myQueueRow().locator("td").nth(1).textContent()) === String(waiting),
    { what: `"my queues" to show ${waiting} waiting for ${SKILL}`, timeoutMs: 10_000 },
  );
  assert.equal(await myQueueRow().locator("td").nth(0).textContent(), SKILL_NAME);
}

test("queued with hold audio and position, offered with service and queue, answered, hung up and wrapped up", async (t) => {
  const citizen = await citizenCalls("queueing-citizen");
  const { page } = citizen;
  try {
    // Queued behind nobody, with the hold tune on slot 0 while nobody answers.
    await assertPosition(page, 1);
    const hold = await assertSlot0Grows(page, "citizen (hold tune)");
    t.diagnostic(`hold tune: ${hold}`);
    assert.equal(await agent.page.getAttribute("#agent-state", "data-state"), "away");
    assert.ok(await agent.page.locator("#incoming-call").isHidden(), "nothing rings at an away agent");

    // The agent sees the call waiting in the right queue; no other queue has anyone.
    await assertWaitingInMyQueue(1);
    assert.ok((await agent.page.locator("[data-testid=my-queues] tr[data-skill]").count()) >= 8, "a demo agent has every skill");
    for (const cells of await agent.page.locator("[data-testid=my-queues] tr[data-skill]").evaluateAll((rows) =>
      rows.map((r) => [r.dataset.skill, r.cells[1].textContent]),
    )) {
      if (cells[0] !== SKILL) assert.equal(cells[1], "0", `nobody waits for ${cells[0]}`);
    }

    // Available: the call is offered with its service and queue, and answered.
    await agent.page.click("#available-button");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await waitForState(agent.page, "#agent-state", "ringing");
    assert.equal(await agent.page.textContent("#incoming-service"), SERVICE_NAME);
    assert.equal(await agent.page.textContent("#incoming-queue"), SKILL_NAME);
    await agent.page.click("#accept-button");
    await waitForState(page, "#status", "connected");
    await waitForState(agent.page, "#agent-state", "on_call");
    assert.equal(await agent.page.textContent("#call-service"), SERVICE_NAME);
    assert.equal(await page.getAttribute("#status", "data-position"), null, "no position once connected");
    const voice = await assertSlot0Grows(page, "citizen (agent voice)");
    t.diagnostic(`agent voice: ${voice}`);
    await assertWaitingInMyQueue(0);

    // The agent hangs up: the citizen's call ends, the agent wraps up in after-call work.
    await agent.page.click("#current-call #hangup-button");
    await waitForState(page, "#status", "ended");
    assert.match(await page.textContent("#status"), /the agent hung up/);
    await waitForState(agent.page, "#agent-state", "after_call_work");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    assert.ok(await agent.page.locator("#current-call").isHidden());
    assert.match(await agent.page.textContent("#wrap-up-heading"), new RegExp(`Last call: ${SERVICE_NAME}`));
    assert.match(await agent.page.textContent("#state-timer"), /ready in \d+ s/);
    const dispositions = await agent.page.locator("[data-testid=wrap-up-disposition] option").evaluateAll((o) => o.map((x) => x.value));
    assert.ok(dispositions.includes("needs_follow_up"), `dispositions from the catalogue: ${dispositions}`);
    assert.equal(
      await agent.page.locator('[data-testid=wrap-up-disposition] option[value="needs_follow_up"]').textContent(),
      "Needs follow-up",
    );
    await agent.page.selectOption("[data-testid=wrap-up-disposition]", "needs_follow_up");
    await agent.page.fill("[data-testid=wrap-up-notes]", "asked for the 2025 payment record; call back");
    // Save first: the form says so and stays; the agent stays in after-call work.
    await agent.page.click("[data-testid=wrap-up-save]");
    await pollUntil(
      async () => (await agent.page.textContent("[data-testid=wrap-up-status]")) === "Wrap-up saved.",
      { what: "wrap-up-status to say saved" },
    );
    assert.equal(await agent.page.getAttribute("#agent-state", "data-state"), "after_call_work");
    // Then "Save and ready": saved again, the form closes, the agent is available.
    await agent.page.click("[data-testid=wrap-up-ready]");
    await waitForState(agent.page, "#agent-state", "available");
    await agent.page.locator("#wrap-up").waitFor({ state: "hidden" });
    assert.ok(await page.locator("#call-button").isEnabled(), "the citizen can call again");

    assert.deepEqual(citizen.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
    assert.ok(await agent.page.locator("#error-message").isHidden(), "no error shown to the agent");
  } finally {
    await citizen.context.close();
  }
});

test("a queued citizen who reloads the hall rejoins the parked call and keeps the place; the agent answers that call", async (t) => {
  // The agent steps away (with a reason from the catalogue) so the next call waits.
  await agent.page.selectOption("#away-reason", "meal");
  await agent.page.click("#away-button");
  await waitForState(agent.page, "#agent-state", "away");
  assert.match(await agent.page.textContent("#agent-state"), /^Away · Meal$/);

  const citizen = await citizenCalls("queueing-reload");
  const { page } = citizen;
  try {
    await assertPosition(page, 1);
    const first = await nextFrame(citizen, "call_queued");
    await assertWaitingInMyQueue(1);

    // Reload: the page comes back, resumes its identity and rejoins the parked call by itself.
    const framesBefore = citizen.frames.length;
    await page.reload();
    const resumed = await nextFrame(citizen, "resumed", () => true, framesBefore);
    assert.equal(resumed.parked_call?.call_id, first.call_id, "the server parked the call");
    await assertPosition(page, 1);
    const again = await nextFrame(citizen, "call_queued", () => true, framesBefore);
    assert.equal(again.call_id, first.call_id, "the same call, rejoined");
    assert.equal(await page.inputValue("#service-select"), SERVICE, "the service shown is the call's");
    assert.ok(await page.locator("#call-button").isDisabled(), "no second call while queued");
    assert.ok(await page.locator("#hangup-button").isEnabled(), "the rejoined call can be hung up");
    t.diagnostic(`hold tune after the reload: ${await assertSlot0Grows(page, "citizen (hold tune after reload)")}`);
    await assertWaitingInMyQueue(1);

    // The agent answers: it is that same call.
    const agentFrom = agent.frames.length;
    await agent.page.click("#available-button");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    const offered = await nextFrame(agent, "call_offered", () => true, agentFrom);
    assert.equal(offered.call_id, first.call_id, "the agent is offered the rejoined call");
    assert.equal(await agent.page.textContent("#incoming-service"), SERVICE_NAME);
    await agent.page.click("#accept-button");
    await waitForState(page, "#status", "connected");
    t.diagnostic(`agent voice after the reload: ${await assertSlot0Grows(page, "citizen (agent voice)")}`);

    // The citizen hangs up; the agent wraps up and is ready.
    await page.click("#hangup-button");
    await waitForState(page, "#status", "ended");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    await agent.page.selectOption("[data-testid=wrap-up-disposition]", "resolved");
    await agent.page.click("[data-testid=wrap-up-ready]");
    await waitForState(agent.page, "#agent-state", "available");

    assert.deepEqual(citizen.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
  } finally {
    await citizen.context.close();
  }
});

test("a citizen who reloads the hall during an answered call takes the call back: the agent waits, voice flows both ways again, one call", async (t) => {
  const agentFrom = agent.frames.length;
  if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
    await agent.page.click("#available-button");
    await waitForState(agent.page, "#agent-state", "available");
  }
  const citizen = await citizenCalls("queueing-reload-in-call");
  const { page } = citizen;
  try {
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    const offered = await nextFrame(agent, "call_offered", () => true, agentFrom);
    await agent.page.click("#accept-button");
    await waitForState(page, "#status", "connected");
    await assertSlot0Grows(page, "citizen (agent voice before the reload)");
    // The timer runs from the answer; let it pass a whole second so the reload can show it kept.
    await page.locator("#call-timer", { hasNotText: /^0:00$/ }).waitFor({ timeout: 5_000 });

    // Reload mid-call: the server keeps the call and tells the agent; the page resumes its
    // identity, offers new media for the call (`rejoin_call`) and is connected again.
    const framesBefore = citizen.frames.length;
    const agentBefore = agent.frames.length;
    // The reload is quick: the agent page's status changes are recorded, not polled.
    await recordStates(agent.page, ["status", "call-link"]);
    await page.reload();
    const lost = await nextFrame(agent, "peer_reconnecting", (m) => m.call_id === offered.call_id, agentBefore);
    assert.equal(lost.peer, "citizen");
    const resumed = await nextFrame(citizen, "resumed", () => true, framesBefore);
    assert.equal(resumed.active_call?.call_id, offered.call_id, "the server kept the answered call");
    const rejoined = await nextFrame(citizen, "call_rejoined", () => true, framesBefore);
    assert.equal(rejoined.call_id, offered.call_id, "the same call, taken back");
    await waitForState(page, "#status", "connected");
    await nextFrame(agent, "peer_reconnected", (m) => m.call_id === offered.call_id, agentBefore);
    // The agent was told the citizen's connection dropped, with the time left, then back to
    // the call as usual.
    await waitForState(agent.page, "#call-link", "connected");
    await waitForState(agent.page, "#status", "connected");
    const link = await recordedStates(agent.page, "call-link");
    const waiting = link.find((s) => s.state === "peer_reconnecting");
    assert.ok(waiting, `the call banner showed the citizen reconnecting: ${JSON.stringify(link)}`);
    const left = Number(waiting.text.match(/waiting up to (\d+) s for them to come back/)?.[1]);
    assert.ok(left > 0 && left <= 60, `a countdown from reconnect_by_ms: ${waiting.text}`);
    const said = (await recordedStates(agent.page, "status")).map((s) => s.state);
    assert.deepEqual(said.slice(-2), ["peer_reconnecting", "connected"], `the status line said it once: ${said}`);
    assert.ok(await agent.page.locator("#call-link").isHidden(), "no notice once the citizen is back");
    assert.ok(await page.locator("#hangup-button").isEnabled(), "the call can be hung up");
    assert.doesNotMatch(await page.textContent("#call-timer"), /^0:0[01]$/, "the timer counts from the answer, not from the reload");
    t.diagnostic(`citizen hears the agent again: ${await assertSlot0Grows(page, "citizen (agent voice after the reload)")}`);
    t.diagnostic(`agent hears the citizen again: ${await assertSlot0Grows(agent.page, "agent (citizen voice after the reload)")}`);
    assert.equal(
      citizen.frames.slice(framesBefore).filter((m) => m.type === "call_ended").length,
      0,
      "the call did not end",
    );

    await page.click("#hangup-button");
    await waitForState(page, "#status", "ended");
    const ended = await nextFrame(agent, "call_ended", (m) => m.call_id === offered.call_id, agentBefore);
    assert.equal(ended.reason, "citizen_hang_up");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    await agent.page.selectOption("[data-testid=wrap-up-disposition]", "resolved");
    await agent.page.click("[data-testid=wrap-up-ready]");
    await waitForState(agent.page, "#agent-state", "available");
    assert.deepEqual(citizen.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
  } finally {
    await citizen.context.close();
  }
});

test("an agent who reloads the console during an answered call gets the call back by itself: new headset, voice both ways, the timer from the answer", async (t) => {
  const agentFrom = agent.frames.length;
  if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
    await agent.page.click("#available-button");
    await waitForState(agent.page, "#agent-state", "available");
  }
  const citizen = await citizenCalls("queueing-agent-reload");
  const { page } = citizen;
  try {
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    const offered = await nextFrame(agent, "call_offered", () => true, agentFrom);
    await agent.page.click("#accept-button");
    await waitForState(page, "#status", "connected");
    await assertSlot0Grows(page, "citizen (agent voice before the reload)");
    // Two whole seconds of call, so a timer restarted by the reload would show.
    await agent.page.locator("#call-duration", { hasNotText: /^0:0[01]$/ }).waitFor({ timeout: 5_000 });

    // Reload the console: the session cookie signs it in again, the server sends the call
    // back (`call_resumed`) and the console brings a new headset onto it (`media_connect`).
    const citizenBefore = citizen.frames.length;
    const agentBefore = agent.frames.length;
    await recordStates(agent.page, ["status", "call-link"], { initScript: true });
    const reloadedAt = Date.now();
    await agent.page.reload();
    const resumed = await nextFrame(agent, "call_resumed", (m) => m.call_id === offered.call_id, agentBefore);
    assert.equal(resumed.service, SERVICE);
    await agent.page.locator("#current-call").waitFor({ state: "visible", timeout: 15_000 });
    assert.ok(await agent.page.locator("#login-section").isHidden(), "no login form: the cookie signed in");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    await waitForState(agent.page, "#call-link", "connected");
    await waitForState(agent.page, "#status", "connected");
    const link = (await recordedStates(agent.page, "call-link")).map((s) => s.state);
    assert.ok(link.includes("reconnecting"), `the console said it was reconnecting the call: ${link}`);
    const connects = agent.frames.slice(agentBefore).filter((m) => m.type === "media_answer");
    assert.ok(connects.length >= 1, "a new headset was offered");

    // The citizen was told the agent was gone, then back.
    const lostAt = citizen.frames.findIndex(
      (m, i) => i >= citizenBefore && m.type === "peer_reconnecting" && m.call_id === offered.call_id,
    );
    assert.ok(lostAt >= 0, "the citizen got peer_reconnecting");
    assert.equal(citizen.frames[lostAt].peer, "agent");
    await nextFrame(citizen, "peer_reconnected", (m) => m.call_id === offered.call_id, lostAt);
    await waitForState(page, "#status", "connected");

    // The call as during a call: its service, peer, timer from the answer and every control.
    assert.equal(await agent.page.getAttribute("#agent-state", "data-state"), "on_call");
    assert.equal(await agent.page.textContent("#call-service"), SERVICE_NAME);
    assert.equal(await agent.page.textContent("#call-peer"), resumed.peer_name);
    const since = seconds(await agent.page.textContent("#call-duration"));
    assert.ok(since >= 2 + Math.floor((Date.now() - reloadedAt) / 1000) - 1, `the timer counts from the answer: ${since} s`);
    for (const id of ["#hangup-button", "#mute-button", "#transfer-button", "#help-button"]) {
      assert.ok(await agent.page.locator(id).isEnabled(), `${id} works`);
    }
    t.diagnostic(`citizen hears the agent again: ${await assertSlot0Grows(page, "citizen (agent voice after the reload)")}`);
    t.diagnostic(`agent hears the citizen again: ${await assertSlot0Grows(agent.page, "agent (citizen voice after the reload)")}`);
    assert.equal(agent.frames.slice(agentBefore).filter((m) => m.type === "call_ended").length, 0, "the call did not end");

    // The agent hangs up and wraps up as usual.
    await agent.page.click("#current-call #hangup-button");
    await waitForState(page, "#status", "ended");
    const ended = await nextFrame(agent, "call_ended", (m) => m.call_id === offered.call_id, agentBefore);
    assert.equal(ended.reason, "agent_hang_up");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    assert.match(await agent.page.textContent("#wrap-up-heading"), new RegExp(`Last call: ${SERVICE_NAME}`));
    await agent.page.selectOption("[data-testid=wrap-up-disposition]", "resolved");
    await agent.page.click("[data-testid=wrap-up-ready]");
    await waitForState(agent.page, "#agent-state", "available");
    assert.deepEqual(citizen.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
  } finally {
    await citizen.context.close();
  }
});
