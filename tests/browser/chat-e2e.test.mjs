// The live chat end to end (issue 16): the real server (`voicedesk --demo`) serves the chat
// between a hall and an agent console — offered, accepted, typing, texts both ways committed
// and in order, markup shown as text, a materials list, a reload of the hall restoring the
// conversation, the citizen ending it, the agent's wrap-up and the citizen's rating; a chat
// switched to a voice call with the same agent (fake audio devices), texts beside the call.
// (chat.test.mjs checks the pages' other states against the contract, chat-contract.mjs.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FAILING_IMPACTS, VIEWPORTS, formatViolations, horizontalOverflow, runAxe, settle } from "./a11y.mjs";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  pollUntil,
  slotBytesReceived,
  startServer,
  waitForState,
} from "./harness.mjs";

const SERVICE = "pension_benefit_inquiry";
const EN = { locale: "en-US" };

let server;
let browser;

before(async () => {
  server = await startServer("chat-e2e");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function lines(page) {
  return page.locator("#chat-log [data-testid=chat-line] .chat-body").allInnerTexts();
}

async function sendFrom(page, text) {
  await page.fill("#chat-input", text);
  await page.click("#chat-send");
}

test("a citizen and an agent chat through the server: typing, texts in order, a reload, the end, wrap-up and rating", async () => {
  const agent = await openPage(browser, "chat-e2e-agent", `${server.url}/agent`, EN);
  const citizen = await openPage(browser, "chat-e2e-hall", `${server.url}/`, EN);
  try {
    await agent.page.fill("#login-username", "agent1");
    await agent.page.fill("#login-password", DEMO_PASSWORD);
    await agent.page.click("#login-submit");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    await waitForState(agent.page, "#agent-state", ["away", "available"]);
    if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
      await agent.page.click("#available-button");
      await waitForState(agent.page, "#agent-state", "available");
    }

    // Connected: the page keeps the citizen token the server's welcome gave it.
    await citizen.page.waitForFunction(() => sessionStorage.getItem("voicedesk.citizen_token"));
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    await citizen.page.click("#chat-button");
    await waitForState(citizen.page, "#chat", ["queued", "connected"]);
    // Written while waiting: the agent gets it once the chat is accepted.
    await sendFrom(citizen.page, "Written while I waited");

    const offer = agent.page.locator("[data-testid=chat-offer]");
    await offer.waitFor({ state: "visible", timeout: 15_000 });
    assert.match(await offer.textContent(), /Pension benefit inquiry/);
    await agent.page.click("[data-testid=chat-accept]");
    await waitForState(citizen.page, "#chat", "connected");
    await pollUntil(async () => (await lines(agent.page)).length === 1 || null, { what: "the waiting text at the agent" });

    // Typing shows at the agent.
    await citizen.page.fill("#chat-input", "");
    await citizen.page.type("#chat-input", "typing");
    await agent.page.locator("#chat-typing[data-typing=true]").waitFor({ state: "attached" });

    const markup = "<b>bold</b><img src=x onerror=\"window.pwned=1\">";
    await sendFrom(citizen.page, markup);
    await pollUntil(async () => (await lines(agent.page)).length === 2 || null, { what: "the markup at the agent" });
    assert.equal(await agent.page.locator("#chat-log .chat-body b, #chat-log .chat-body img").count(), 0);
    assert.equal(await agent.page.evaluate(() => window.pwned ?? null), null);

    await sendFrom(agent.page, "Please bring:\n- ID card\n- Social security card");
    const answer = citizen.page.locator("#chat-log [data-from=agent] .chat-body").first();
    await answer.waitFor({ state: "visible" });
    assert.deepEqual(await answer.locator("ul > li").allInnerTexts(), ["ID card", "Social security card"]);
    // Committed and read: the agent's text shows read once the hall has it in view.
    await agent.page.locator("#chat-log [data-from=agent][data-state=read]").waitFor({ state: "attached" });

    // A reload of the hall restores the conversation from the server.
    await citizen.page.reload();
    await waitForState(citizen.page, "#chat-status", "connected");
    const before = await lines(citizen.page);
    assert.deepEqual(before.slice(0, 2), ["Written while I waited", markup]);
    assert.equal(before.length, 3);
    assert.match(before[2], /^Please bring:\s+ID card\s+Social security card$/);
    await sendFrom(citizen.page, "after the reload");
    await pollUntil(async () => (await lines(agent.page)).length === 4 || null, { what: "the text after the reload" });
    assert.deepEqual(await lines(agent.page), await lines(citizen.page), "the same texts in the same order");

    // The citizen ends it: the rating; the agent wraps up.
    await citizen.page.click("#chat-end");
    await waitForState(citizen.page, "#chat", "ended");
    await citizen.page.locator("#rating-form").waitFor({ state: "visible" });
    await citizen.page.locator("#rating-levels input[value='5']").check();
    await citizen.page.click("#rating-submit");
    await citizen.page.locator("#rating-thanks").waitFor({ state: "visible" });

    await agent.page.locator("#chat-wrap-up").waitFor({ state: "visible" });
    await agent.page.click("#chat-wrap-up-save");
    await agent.page.locator("#chats").waitFor({ state: "hidden" });
    assert.deepEqual(citizen.errors, []);
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});

/** Waits until slot 0 of the page's connection has received 4,000 more audio bytes. */
async function audioArrives(page, who) {
  const start = await slotBytesReceived(page, 0);
  assert.equal(start.closed, false, `${who}: the connection is closed`);
  await pollUntil(
    async () => ((await slotBytesReceived(page, 0)).bytes - start.bytes >= 4_000 ? true : null),
    { timeoutMs: 8_000, what: `${who}'s slot 0 to receive audio` },
  );
}

async function axeClean(t, page, what) {
  const problems = [];
  for (const width of ["desktop", "360"]) {
    await page.setViewportSize(VIEWPORTS[width]);
    await settle(page);
    const failing = (await runAxe(page)).filter((v) => FAILING_IMPACTS.has(v.impact));
    if (failing.length) problems.push(`axe on ${what} at ${width}:\n${formatViolations(failing)}`);
    if (width === "360") {
      const overflow = await horizontalOverflow(page);
      if (overflow.scrollWidth > VIEWPORTS[360].width) {
        problems.push(`${what} scrolls sideways at 360 px: ${overflow.offenders.map((o) => o.element).join(", ")}`);
      }
    }
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  t.diagnostic(`axe on ${what}: ${problems.length} problems`);
  assert.deepEqual(problems, [], problems.join("\n"));
}

test("a chat becomes a voice call with the same agent: the agent offers, the hall accepts, voice both ways, texts beside the call", async (t) => {
  const agent = await openPage(browser, "chat-voice-agent", `${server.url}/agent`, { ...EN, viewport: VIEWPORTS.desktop });
  const citizen = await openPage(browser, "chat-voice-hall", `${server.url}/`, { ...EN, viewport: VIEWPORTS.desktop });
  try {
    await agent.page.fill("#login-username", "agent1");
    await agent.page.fill("#login-password", DEMO_PASSWORD);
    await agent.page.click("#login-submit");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    await waitForState(agent.page, "#agent-state", ["away", "available"]);
    if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
      await agent.page.click("#available-button");
      await waitForState(agent.page, "#agent-state", "available");
    }
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    assert.ok(await citizen.page.locator("#status").isVisible(), "the call's hint before a chat");
    await citizen.page.click("#chat-button");
    await agent.page.locator("[data-testid=chat-offer]").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("[data-testid=chat-accept]");
    await waitForState(citizen.page, "#chat", "connected");
    // The call's hint ("choose a service and press Call") is not shown during a chat.
    assert.ok(await citizen.page.locator("#status").isHidden(), "no call hint in a chat");
    assert.ok(await citizen.page.locator("#chat-voice").isVisible());

    // The agent proposes a call; the hall says so and the citizen accepts.
    await agent.page.click("#chat-voice");
    await citizen.page.locator("#chat-status", { hasText: "switch to a voice call" }).waitFor({ timeout: 10_000 });
    await axeClean(t, citizen.page, "the hall with a call proposed");
    await citizen.page.click("#chat-voice");
    await citizen.page.click("#mic-continue");
    await waitForState(citizen.page, "#status", "connected", 20_000);
    await waitForState(agent.page, "#agent-state", "on_call");
    await agent.page.locator("#current-call").waitFor({ state: "visible" });
    assert.ok(await citizen.page.locator("#chat-voice").isHidden(), "already a call");
    await audioArrives(citizen.page, "citizen");
    await audioArrives(agent.page, "agent");

    // The text panel beside the call: a link from the agent, clickable, never HTML; an answer.
    await sendFrom(agent.page, "The form: https://example.org/form.pdf <i>x</i>");
    const link = citizen.page.locator("#chat-log [data-from=agent] a[href='https://example.org/form.pdf']");
    await link.waitFor({ state: "visible" });
    assert.equal(await citizen.page.locator("#chat-log .chat-body i").count(), 0);
    await sendFrom(citizen.page, "Got it, thanks");
    await pollUntil(async () => (await lines(agent.page)).includes("Got it, thanks") || null, { what: "the answer at the agent" });
    await axeClean(t, citizen.page, "the hall in a call with its chat");
    await axeClean(t, agent.page, "the agent console in a call with its chat");

    // The citizen hangs up: the call and the chat end together; the agent wraps up the call.
    await citizen.page.click("#hangup-button");
    await waitForState(citizen.page, "#chat", "ended");
    await waitForState(agent.page, "#agent-state", "after_call_work");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    assert.deepEqual(citizen.errors, []);
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});

test("a voice call has a text panel on both sides: a list of documents and a link from the agent, an answer from the citizen", async (t) => {
  const agent = await openPage(browser, "call-texts-agent", `${server.url}/agent`, { ...EN, viewport: VIEWPORTS.desktop });
  const citizen = await openPage(browser, "call-texts-hall", `${server.url}/`, { ...EN, viewport: VIEWPORTS.desktop });
  try {
    await agent.page.fill("#login-username", "agent1");
    await agent.page.fill("#login-password", DEMO_PASSWORD);
    await agent.page.click("#login-submit");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    await waitForState(agent.page, "#agent-state", ["away", "available", "after_call_work"]);
    if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "available") {
      await agent.page.click("#available-button");
      await waitForState(agent.page, "#agent-state", "available");
    }
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    await citizen.page.click("#call-button");
    await citizen.page.click("#mic-continue");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");
    await waitForState(citizen.page, "#status", "connected");
    await agent.page.locator("#chat-input").waitFor({ state: "visible" });
    assert.ok(await citizen.page.locator("#chat-end").isHidden(), "the call's hang-up ends its texts");

    await sendFrom(agent.page, "Please bring:\n- ID card\n- https://example.org/form.pdf");
    const answer = citizen.page.locator("#chat-log [data-from=agent] .chat-body").first();
    await answer.waitFor({ state: "visible" });
    assert.equal(await answer.locator("ul > li").count(), 2);
    assert.equal(await answer.locator("a[href='https://example.org/form.pdf']").count(), 1);
    await sendFrom(citizen.page, "I have both <b>now</b>");
    await pollUntil(async () => (await lines(agent.page)).includes("I have both <b>now</b>") || null, { what: "the citizen's answer as text" });
    assert.equal(await agent.page.locator("#chat-log .chat-body b").count(), 0);
    await axeClean(t, citizen.page, "the hall's call with its text panel");
    await axeClean(t, agent.page, "the agent's call with its text panel");

    await agent.page.click("#hangup-button");
    await waitForState(citizen.page, "#status", "ended");
    await waitForState(citizen.page, "#chat", "ended");
    await agent.page.locator("#wrap-up").waitFor({ state: "visible" });
    assert.ok(await agent.page.locator("#chats").isHidden(), "the call's text tab closed with the call");
    assert.deepEqual(citizen.errors, []);
    assert.deepEqual(agent.errors, []);
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});
