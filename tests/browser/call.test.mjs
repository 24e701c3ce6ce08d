// A citizen calls from the hall, an agent answers in the console, voice flows both ways through
// the relay, the citizen hangs up. Real server (`voicedesk --demo`), real Chromium, fake
// microphones (Chromium's test tone).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  pollUntil,
  relayReceivedMore,
  slotBytesReceived,
  startServer,
  waitForState,
} from "./harness.mjs";

/** Bytes a receive slot must gain to count as "voice flows" (Opus at the browser's default
 * rate sends several kB per second; this is a fraction of one second). */
const FLOWING_BYTES = 2000;

/** A service id of the catalogue, and its name as the console shows it (in English here). */
const SERVICE = "pension_benefit_inquiry";
const SERVICE_NAME = "Pension benefit inquiry";

let server;
let browser;

before(async () => {
  server = await startServer("call");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Waits until slot `slot` of the page's connection has received `FLOWING_BYTES` more; returns
 * how long that took. */
async function assertSlotGrows(page, who, slot = 0) {
  const startedAt = Date.now();
  const start = await slotBytesReceived(page, slot);
  assert.equal(start.closed, false, `${who}: the connection is closed`);
  const grown = await pollUntil(
    async () => {
      const now = await slotBytesReceived(page, slot);
      return now.bytes - start.bytes >= FLOWING_BYTES ? now : null;
    },
    { timeoutMs: 8_000, what: `${who}'s slot ${slot} to receive ${FLOWING_BYTES} more audio bytes (from ${start.bytes})` },
  );
  return `${grown.bytes - start.bytes} bytes in ${Date.now() - startedAt} ms`;
}

test("a citizen's call is answered by an agent, voice flows both ways, and hang-up ends it for both", async (t) => {
  const agent = await openPage(browser, "call-agent", `${server.url}/agent`, { locale: "en-US" });
  const citizen = await openPage(browser, "call-citizen", `${server.url}/`, { locale: "zh-CN" });
  try {
    // The agent logs in; the headset connection comes up on its own; the agent becomes available.
    await agent.page.fill("#login-username", "agent1");
    await agent.page.fill("#login-password", DEMO_PASSWORD);
    await agent.page.click("#login-submit");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    await waitForState(agent.page, "#agent-state", ["away", "available"]);
    await agent.page.click("#available-button");
    await waitForState(agent.page, "#agent-state", "available");

    // The citizen reads the notice, picks a service and calls; no media before that.
    assert.ok(await citizen.page.locator("#monitoring-notice").isVisible());
    assert.equal(await citizen.page.evaluate(() => window.voicedesk.pc), null);
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    await citizen.page.click("#call-button");
    // Why the microphone, and the monitoring, are said before the browser asks.
    await citizen.page.click("#mic-continue");
    await waitForState(citizen.page, "#status", ["queued", "connected"]);

    // The offer rings at the agent, with the service; the agent accepts.
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    assert.equal(await agent.page.locator("#incoming-service").textContent(), SERVICE_NAME);
    await waitForState(agent.page, "#agent-state", "ringing");
    await agent.page.click("#accept-button");

    await waitForState(citizen.page, "#status", "connected");
    await agent.page.locator("#current-call").waitFor({ state: "visible" });
    await waitForState(agent.page, "#agent-state", "on_call");
    assert.ok(await agent.page.locator("#incoming-call").isHidden());

    // Voice reaches each side's first receive slot (citizen: the agent; agent: the citizen).
    const toCitizen = await assertSlotGrows(citizen.page, "citizen");
    const toAgent = await assertSlotGrows(agent.page, "agent");
    t.diagnostic(`slot 0 received ${toCitizen} at the citizen, ${toAgent} at the agent`);

    // The citizen hangs up: the call ends on both pages; the agent is in after-call work with
    // the wrap-up form, saves it and is available again.
    await citizen.page.click("#hangup-button");
    await waitForState(citizen.page, "#status", "ended");
    await waitForState(agent.page, "#status", "ended");
    await waitForState(agent.page, "#agent-state", "after_call_work");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    await agent.page.selectOption("#wrap-up-disposition", "resolved");
    await agent.page.fill("#wrap-up-notes", "explained the pension payment dates");
    await agent.page.click("#wrap-up-ready");
    await waitForState(agent.page, "#agent-state", "available");
    assert.ok(await agent.page.locator("#wrap-up").isHidden(), "the wrap-up form closes");
    assert.ok(await agent.page.locator("#current-call").isHidden());
    assert.ok(await citizen.page.locator("#call-button").isEnabled(), "the citizen can call again");

    // Nothing reaches the citizen any more: the connection is closed or its bytes stand still
    // while the relay receives 50 more packets (a second of the agent's microphone).
    const first = await slotBytesReceived(citizen.page, 0);
    if (!first.closed) {
      await relayReceivedMore(server, 50);
      const later = await slotBytesReceived(citizen.page, 0);
      assert.ok(later.closed || later.bytes === first.bytes, `the citizen still receives: ${first.bytes} → ${later.bytes}`);
    }
    // The agent's headset stays up for the next call.
    assert.equal(await agent.page.getAttribute("#media-state", "data-state"), "connected");

    assert.deepEqual(agent.errors, [], "no script errors on the agent page");
    assert.deepEqual(citizen.errors, [], "no script errors in the hall");
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});
