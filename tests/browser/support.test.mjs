// Staff support end to end: a citizen in the hall, an agent in the agent console and a staff
// member in the staff console, each in their own browser context, against the real server
// (`voicedesk --demo`) with Chromium's fake microphones. The staff member joins the call to
// monitor, whispers, barges in and leaves; every step is checked where it matters — the bytes
// arriving on each receive slot of each page (DESIGN.md, the staff modes table), what each page
// shows, and the audit log. Then the agent asks for help and the staff member accepts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  pollUntil,
  slotsBytesReceived,
  startServer,
  waitForState,
} from "./harness.mjs";

/** Bytes a slot must gain to count as "voice flows" (Opus sends several kB per second). */
const FLOWING_BYTES = 2000;
/** Audio the flowing slots deliver while a silent slot is watched to show it does not grow. */
const WINDOW_BYTES = 3 * FLOWING_BYTES;
/** Audio the flowing slots deliver before the window opens: packets already on their way
 * when the routing changed arrive meanwhile. */
const SETTLE_BYTES = FLOWING_BYTES / 2;

let server;
let browser;

before(async () => {
  server = await startServer("support");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function logIn(page, username) {
  await page.fill("#login-username", username);
  await page.fill("#login-password", DEMO_PASSWORD);
  await page.click("#login-submit");
  await waitForState(page, "#media-state", "connected", 20_000);
}

/**
 * Checks every receive slot named in `expect` over one window: `{ who: [slot0, slot1] }` with
 * `true` (must gain FLOWING_BYTES), `false` (must gain nothing at all) or `null` (not checked);
 * or `{ who: "some" }`: the page's slots together must gain FLOWING_BYTES.
 * Windows are measured in delivered audio, not in time: first the flowing slots gain
 * SETTLE_BYTES (the new routes are in effect and packets routed before the change have
 * arrived), then the window lasts until every flowing slot has gained WINDOW_BYTES (at most
 * 8 s, after which the assertions below report what did not flow). Returns a line for the
 * diagnostics.
 */
async function assertSlots(step, pages, expect) {
  const snapshot = async () =>
    Object.fromEntries(await Promise.all(Object.keys(expect).map(async (who) => [who, await slotsBytesReceived(pages[who])])));
  const deltasSince = (start, now) =>
    Object.fromEntries(Object.keys(expect).map((who) => [who, now[who].bytes.map((b, slot) => b - (start[who].bytes[slot] ?? 0))]));
  const flowingGained = (d, bytes) =>
    Object.entries(expect).every(([who, slots]) =>
      slots === "some"
        ? d[who].reduce((a, b) => a + b, 0) >= bytes
        : slots.every((want, slot) => want !== true || d[who][slot] >= bytes),
    );
  const waitForFlow = async (start, bytes) => {
    const startedAt = Date.now();
    let now;
    do {
      await new Promise((wake) => setTimeout(wake, 100));
      now = await snapshot();
    } while (!flowingGained(deltasSince(start, now), bytes) && Date.now() - startedAt < 8_000);
    return now;
  };
  await waitForFlow(await snapshot(), SETTLE_BYTES);
  const start = await snapshot();
  for (const [who, stats] of Object.entries(start)) assert.equal(stats.closed, false, `${step}: ${who}'s connection is closed`);
  const startedAt = Date.now();
  const now = await waitForFlow(start, WINDOW_BYTES);
  const d = deltasSince(start, now);
  const elapsed = Date.now() - startedAt;
  const report = Object.entries(d).map(([who, slots]) => `${who} [${slots.join(", ")}]`).join("; ");
  for (const [who, slots] of Object.entries(expect)) {
    if (slots === "some") {
      const total = d[who].reduce((a, b) => a + b, 0);
      assert.ok(total >= FLOWING_BYTES, `${step}: ${who} should receive voice; gained ${total} bytes in ${elapsed} ms (${report})`);
      continue;
    }
    slots.forEach((want, slot) => {
      if (want === true) {
        assert.ok(d[who][slot] >= FLOWING_BYTES, `${step}: ${who}'s slot ${slot} should receive voice; gained ${d[who][slot]} bytes in ${elapsed} ms (${report}; mids ${JSON.stringify(now[who].mids)} reports ${JSON.stringify(now[who].reportMids)})`);
      } else if (want === false) {
        assert.equal(d[who][slot], 0, `${step}: ${who}'s slot ${slot} should receive nothing; gained ${d[who][slot]} bytes in ${elapsed} ms (${report})`);
      }
    });
  }
  return `${step}: bytes gained in ${elapsed} ms: ${report}`;
}

/** Waits until the audit table shows an entry for `callId` of `action` (any when null) and
 * `mode` (any when null). */
async function waitForAudit(page, callId, action, mode = null) {
  const selector = `#audit-table tr[data-audit-call-id="${callId}"]${action ? `[data-audit-action="${action}"]` : ""}${mode ? `[data-audit-mode="${mode}"]` : ""}`;
  try {
    await page.locator(selector).first().waitFor({ state: "attached", timeout: 10_000 });
  } catch (error) {
    const rows = await page.locator("#audit-table tbody tr").evaluateAll((trs) =>
      trs.map((tr) => `${tr.dataset.auditAction}/${tr.dataset.auditMode}/${tr.dataset.auditCallId}: ${tr.textContent}`),
    );
    const problem = await page.locator("#audit-error").textContent();
    throw new Error(`no audit entry ${action}${mode ? `/${mode}` : ""} for ${callId}; the table has ${JSON.stringify(rows)} ${problem}`, { cause: error });
  }
}

/**
 * Three pages in three contexts — hall, agent console (agent1), staff console (staff1) — and a
 * call between the citizen and the agent, talking, on the staff member's wallboard.
 */
async function talkingCall(name) {
  const hall = await openPage(browser, `${name}-citizen`, `${server.url}/`, { locale: "en-US" });
  const agent = await openPage(browser, `${name}-agent`, `${server.url}/agent`, { locale: "en-US" });
  const staff = await openPage(browser, `${name}-staff`, `${server.url}/staff`, { locale: "en-US" });
  const pages = { citizen: hall.page, agent: agent.page, staff: staff.page };
  const close = async () => {
    await hall.context.close();
    await agent.context.close();
    await staff.context.close();
  };
  try {
    // The agent signs in and becomes available; the staff member signs in (headset up, wallboard live).
    await logIn(agent.page, "agent1");
    await waitForState(agent.page, "#agent-state", ["away", "available"]);
    await agent.page.click("#available-button");
    await waitForState(agent.page, "#agent-state", "available");
    await logIn(staff.page, "staff1");
    await waitForState(staff.page, "#wallboard", "live", 15_000);
    await staff.page.locator('#agents-table tr[data-agent-id] td[data-state="available"]').first().waitFor({ timeout: 15_000 });

    // The citizen calls; the agent accepts.
    await hall.page.click("#call-button");
    await hall.page.click("#mic-continue");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");
    await waitForState(hall.page, "#status", "connected");
    await agent.page.locator("#current-call").waitFor({ state: "visible" });
    assert.equal(await agent.page.getAttribute("#support-indicator", "data-mode"), "none");

    // The call shows up on the wallboard, talking.
    const row = staff.page.locator('#calls-table tr[data-call-id][data-phase="talking"]');
    await row.waitFor({ timeout: 15_000 });
    const callId = await row.getAttribute("data-call-id");
    return { hall, agent, staff, pages, row, callId, close };
  } catch (error) {
    await close();
    throw error;
  }
}

test("staff monitor, whisper, barge in and leave: each page hears exactly what the modes table says", async (t) => {
  const { hall, agent, staff, pages, row, callId, close } = await talkingCall("support");
  try {
    t.diagnostic(`call ${callId}`);
    t.diagnostic(await assertSlots("before support", pages, {
      citizen: [true, false],
      agent: [true, false],
      staff: [false, false],
    }));

    // Monitor: staff hears both sides; nobody hears staff.
    await row.locator("[data-action=monitor]").click();
    await staff.page.locator(`#current-mode[data-mode="monitor"][data-call-id="${callId}"]`).waitFor({ timeout: 10_000 });
    await agent.page.locator('#support-indicator[data-mode="monitor"]').waitFor({ timeout: 10_000 });
    assert.equal((await agent.page.textContent("#support-indicator")).trim(), "陈静 Chen Jing — monitoring");
    t.diagnostic(await assertSlots("monitor", pages, {
      citizen: [true, false],
      agent: [true, false],
      staff: [true, true],
    }));
    assert.equal(await hall.page.getAttribute("#status", "data-state"), "connected", "the citizen is not told about monitoring");
    await waitForAudit(staff.page, callId, "join", "monitor");

    // Whisper: the agent hears staff on the coach slot; the citizen still does not.
    await row.locator("[data-action=whisper]").click();
    await staff.page.locator('#current-mode[data-mode="whisper"]').waitFor({ timeout: 10_000 });
    await agent.page.locator('#support-indicator[data-mode="whisper"]').waitFor({ timeout: 10_000 });
    assert.equal((await agent.page.textContent("#support-indicator")).trim(), "陈静 Chen Jing — whispering");
    t.diagnostic(await assertSlots("whisper", pages, {
      citizen: [true, false],
      agent: [true, true],
      staff: [true, true],
    }));
    assert.equal(await hall.page.getAttribute("#status", "data-state"), "connected", "the citizen is not told about whispering");
    await waitForAudit(staff.page, callId, "mode", "whisper");

    // Barge: three-way; the citizen hears staff on slot 1 and is told.
    await row.locator("[data-action=barge]").click();
    await staff.page.locator('#current-mode[data-mode="barge"]').waitFor({ timeout: 10_000 });
    await agent.page.locator('#support-indicator[data-mode="barge"]').waitFor({ timeout: 10_000 });
    await waitForState(hall.page, "#status", "supervisor_joined");
    assert.equal((await hall.page.textContent("#status")).trim(), "A supervisor has joined the call.");
    t.diagnostic(await assertSlots("barge", pages, {
      citizen: [true, true],
      agent: [true, true],
      staff: [true, true],
    }));
    await waitForAudit(staff.page, callId, "mode", "barge");

    // Leave: staff's slots and both slot 1s fall silent; citizen ↔ agent goes on.
    await row.locator("[data-action=leave]").click();
    await staff.page.locator('#current-mode[data-mode="none"]').waitFor({ timeout: 10_000 });
    await agent.page.locator('#support-indicator[data-mode="none"]').waitFor({ timeout: 10_000 });
    assert.equal((await agent.page.textContent("#support-indicator")).trim(), "No supervisor on the call");
    t.diagnostic(await assertSlots("after leave", pages, {
      citizen: [true, false],
      agent: [true, false],
      staff: [false, false],
    }));
    await waitForAudit(staff.page, callId, "leave");
    // The citizen heard the supervisor leave: the line no longer says one has joined.
    await waitForState(hall.page, "#status", "connected");
    assert.equal((await hall.page.textContent("#status")).trim(), "The supervisor has left the call. You are talking with 王芳 Wang Fang.");

    // The agent asks for help; the request reaches the staff console; Accept joins in whisper.
    await agent.page.fill("#help-reason", "跨省转移政策 cross-region transfer rules");
    await agent.page.click("#help-button");
    await waitForState(agent.page, "#help-status", "pending");
    const request = staff.page.locator(`#help-requests [data-call-id="${callId}"]`);
    await request.waitFor({ timeout: 10_000 });
    assert.match(await request.textContent(), /跨省转移政策 cross-region transfer rules/);
    await request.locator("[data-action=accept_help]").click();
    await waitForState(agent.page, "#help-status", "accepted");
    assert.match(await agent.page.textContent("#help-status"), /陈静 Chen Jing/);
    await agent.page.locator('#support-indicator[data-mode="whisper"]').waitFor({ timeout: 10_000 });
    await staff.page.locator('#current-mode[data-mode="whisper"]').waitFor({ timeout: 10_000 });
    await request.waitFor({ state: "detached", timeout: 10_000 });
    t.diagnostic(await assertSlots("accepted help (whisper)", pages, {
      citizen: [true, false],
      agent: [true, true],
      staff: [true, true],
    }));
    await row.locator("[data-action=leave]").click();
    await staff.page.locator('#current-mode[data-mode="none"]').waitFor({ timeout: 10_000 });

    // The citizen hangs up; the headsets stay up.
    await hall.page.click("#hangup-button");
    await waitForState(hall.page, "#status", "ended");
    await waitForState(agent.page, "#status", "ended");
    await row.waitFor({ state: "detached", timeout: 15_000 });
    assert.equal(await staff.page.getAttribute("#media-state", "data-state"), "connected");

    assert.deepEqual(hall.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
    assert.deepEqual(staff.errors, [], "no script errors on the staff page");
  } finally {
    await close();
  }
});

test("take over: the agent is freed, the citizen talks with staff and is told, leaving ends the call", async (t) => {
  const { hall, agent, staff, pages, row, callId, close } = await talkingCall("takeover");
  try {
    await row.locator("[data-action=take_over]").click();
    await staff.page.locator(`#current-mode[data-mode="take_over"][data-call-id="${callId}"]`).waitFor({ timeout: 10_000 });
    // The agent's part of the call ends; the agent can take the next one.
    await waitForState(agent.page, "#status", "ended");
    assert.equal((await agent.page.textContent("#status")).trim(), "Call ended (a supervisor took the call over).");
    assert.ok(await agent.page.locator("#current-call").isHidden());
    // Freed: into after-call work (wrap-up of the part of the call the agent had).
    await waitForState(agent.page, "#agent-state", ["after_call_work", "available", "away"]);
    // The citizen is told, and the call goes on with staff.
    await waitForState(hall.page, "#status", "supervisor_took_over");
    assert.equal((await hall.page.textContent("#status")).trim(), "A supervisor has taken over your call.");
    assert.ok(await hall.page.locator("#hangup-button").isEnabled());
    t.diagnostic(await assertSlots("take over", pages, {
      citizen: "some",
      agent: [false, false],
      staff: [true, false],
    }));
    // Whether recorded as its own action or as a change of mode, the take over is in the log.
    await staff.page
      .locator(`#audit-table tr[data-audit-call-id="${callId}"]:is([data-audit-action="take_over"], [data-audit-mode="take_over"])`)
      .first()
      .waitFor({ state: "attached", timeout: 10_000 });

    // Leaving after a take over ends the call for the citizen.
    await row.locator("[data-action=leave]").click();
    await waitForState(hall.page, "#status", "ended");
    assert.equal((await hall.page.textContent("#status")).trim(), "Call ended (the supervisor hung up).");
    await staff.page.locator('#current-mode[data-mode="none"]').waitFor({ timeout: 10_000 });
    await row.waitFor({ state: "detached", timeout: 15_000 });
    assert.equal(await staff.page.getAttribute("#media-state", "data-state"), "connected");

    assert.deepEqual(hall.errors, [], "no script errors in the hall");
    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
    assert.deepEqual(staff.errors, [], "no script errors on the staff page");
  } finally {
    await close();
  }
});
