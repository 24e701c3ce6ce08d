// Staff on a live chat (issue 16), in Chromium against the real server: staff1 opens a chat
// from the live chats list read-only (the conversation so far, then new texts live), whispers
// to the agent — the agent's chat tab shows it marked as a whisper, and the hall page never
// shows it, neither in its DOM nor in any WebSocket frame it received —, then takes the chat
// over (the hall sees the staff member's name). axe-core on the new staff states at 1280 and
// 360 px.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer, waitForState } from "./harness.mjs";
import { FAILING_IMPACTS, VIEWPORTS, formatViolations, runAxe, settle } from "./a11y.mjs";

const SERVICE = "pension_benefit_inquiry";
const EN = { locale: "en-US" };
const WHISPER = "Check the ID number first (staff only)";

let server;
let browser;

before(async () => {
  server = await startServer("chat-staff");
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

async function axeClean(page, what) {
  for (const [name, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await settle(page);
    const failing = (await runAxe(page)).filter((v) => FAILING_IMPACTS.has(v.impact));
    assert.equal(failing.length, 0, `${what} at ${name}:\n${formatViolations(failing)}`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

test("staff watch a chat, whisper to the agent (never to the hall), and take it over", async () => {
  const agent = await openPage(browser, "chat-staff-agent", `${server.url}/agent`, EN);
  const staff = await openPage(browser, "chat-staff-staff", `${server.url}/staff`, EN);
  // Every frame the hall's sockets receive, from its first connection on.
  const frames = [];
  const citizen = await openPage(browser, "chat-staff-hall", `${server.url}/`, EN, async (_context, page) => {
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(String(f.payload))));
  });
  try {
    await logIn(agent.page, "agent1");
    await waitForState(agent.page, "#agent-state", ["away", "available"]);
    if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
      await agent.page.click("#available-button");
      await waitForState(agent.page, "#agent-state", "available");
    }
    await logIn(staff.page, "staff1");

    await citizen.page.waitForFunction(() => sessionStorage.getItem("voicedesk.citizen_token"));
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    await citizen.page.click("#chat-button");
    await agent.page.locator("[data-testid=chat-offer]").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("[data-testid=chat-accept]");
    await waitForState(citizen.page, "#chat", "connected");
    await citizen.page.fill("#chat-input", "When is my pension paid?");
    await citizen.page.click("#chat-send");
    await agent.page.locator("#chat-log [data-from=citizen]").waitFor({ state: "attached" });

    // The live chats list, then the read-only view with the conversation so far.
    const open = staff.page.locator("#chats-table button[data-chat]");
    await open.first().waitFor({ state: "visible", timeout: 15_000 });
    await axeClean(staff.page, "the live chats list");
    await open.first().click();
    await waitForState(staff.page, "#chat-view", "watching");
    await pollUntil(
      async () => ((await staff.page.locator("#chat-view-log").innerText()).includes("When is my pension paid?") ? true : null),
      { what: "the conversation so far in the staff view" },
    );
    await axeClean(staff.page, "the read-only chat view");

    // New texts come live.
    await agent.page.fill("#chat-input", "Let me check.");
    await agent.page.click("#chat-send");
    await pollUntil(
      async () => ((await staff.page.locator("#chat-view-log").innerText()).includes("Let me check.") ? true : null),
      { what: "the agent's new text in the staff view" },
    );

    // The whisper: shown marked at the agent, never at the hall.
    await staff.page.fill("#chat-view-text", WHISPER);
    await staff.page.click("#chat-view-submit");
    const whisper = agent.page.locator("#chat-log [data-testid=chat-whisper]");
    await whisper.waitFor({ state: "visible" });
    assert.match(await whisper.innerText(), /Whisper/);
    assert.match(await whisper.innerText(), /Check the ID number first/);
    await staff.page.locator("#chat-view-log [data-from=whisper]").waitFor({ state: "attached" });
    // A later marker text: the hall has everything sent before it once it shows.
    await agent.page.fill("#chat-input", "marker after the whisper");
    await agent.page.click("#chat-send");
    await pollUntil(
      async () => ((await citizen.page.locator("#chat-log").innerText()).includes("marker after the whisper") ? true : null),
      { what: "the marker at the hall" },
    );
    assert.ok(!(await citizen.page.content()).includes("staff only"), "the hall's DOM has no whisper");
    assert.ok(frames.some((f) => f.includes("marker after the whisper")), "frames were captured");
    assert.deepEqual(
      frames.filter((f) => f.includes("staff only") || f.includes("chat_whisper")),
      [],
      "the hall received no whisper frame",
    );

    // Take over: the hall sees the staff member's name; the staff member replies.
    await staff.page.click("#chat-view-take-over");
    await waitForState(staff.page, "#chat-view", "owned");
    await axeClean(staff.page, "a chat taken over");
    await pollUntil(
      async () => ((await citizen.page.locator("body").innerText()).includes("Chen Jing") ? true : null),
      { what: "the staff member's name at the hall" },
    );
    await staff.page.fill("#chat-view-text", "I will handle this myself.");
    await staff.page.click("#chat-view-submit");
    await pollUntil(
      async () => ((await citizen.page.locator("#chat-log").innerText()).includes("I will handle this myself.") ? true : null),
      { what: "the staff member's reply at the hall" },
    );
    assert.deepEqual(citizen.errors, []);
    assert.deepEqual(agent.errors, []);
    assert.deepEqual(staff.errors, []);
  } finally {
    await agent.context.close();
    await staff.context.close();
    await citizen.context.close();
  }
});
