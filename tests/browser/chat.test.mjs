// The live text chat in the pages (issue 16): the hall and the agent console talk through the
// chat's documented messages (chat-contract.mjs plays them between the two pages; everything
// else is the real `voicedesk --demo`). A citizen starts a chat about a service, waits, texts
// with an agent (typing indicator, texts in order, delivered/read marks, links and lists, markup
// shown as text), keeps the conversation across a reload, is refused clearly for too long a text
// and a flood, gets the transcript and the rating at the end; when nobody answers, what was
// typed goes to the message form; from the assistant's answer the chat carries the
// conversation. The agent holds chats as tabs with unread counts, canned replies of the chat's
// service, transfer and wrap-up. Axe on the new states at 1280 and 360 px; keyboard only from
// the hall to a sent text.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { FAILING_IMPACTS, VIEWPORTS, focusState, formatViolations, horizontalOverflow, runAxe, settle } from "./a11y.mjs";
import { ChatContract } from "./chat-contract.mjs";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer, waitForState } from "./harness.mjs";

const SERVICE = "pension_benefit_inquiry";
const EN = { locale: "en-US", viewport: VIEWPORTS.desktop };

let server;
let browser;
const opened = [];

before(async () => {
  server = await startServer("chat");
  browser = await launchBrowser();
});

// Each test's pages go with it: an agent signed in twice would take the chats of another test.
afterEach(async () => {
  for (const { context } of opened.splice(0)) await context.close().catch(() => {});
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(contract, name, path, options = EN) {
  const page = await openPage(browser, `chat-${name}`, `${server.url}${path}`, options, (context) =>
    contract.attach(context, name),
  );
  opened.push(page);
  return page;
}

/** An agent console, logged in (the chats come through the contract, not the queue). */
async function agentConsole(contract, name = "agent", username = "agent1") {
  const agent = await open(contract, name, "/agent");
  await agent.page.fill("#login-username", username);
  await agent.page.fill("#login-password", DEMO_PASSWORD);
  await agent.page.click("#login-submit");
  await waitForState(agent.page, "#agent-state", ["away", "available"], 20_000);
  return agent;
}

/** A hall page with the services loaded and `SERVICE` chosen. */
async function hall(contract, name = "hall", options = EN) {
  const citizen = await open(contract, name, "/", options);
  // Connected: the page keeps the citizen token the server's welcome gave it.
  await citizen.page.waitForFunction(() => sessionStorage.getItem("voicedesk.citizen_token"));
  await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
  await citizen.page.selectOption("#service-select", SERVICE);
  return citizen;
}

/** The citizen starts a chat from the call card and the agent accepts it. */
async function connect(contract, citizen, agent) {
  await citizen.page.click("#chat-button");
  await waitForState(citizen.page, "#chat", "queued");
  await agent.page.locator("[data-testid=chat-offer]").waitFor({ state: "visible" });
  await agent.page.click("[data-testid=chat-accept]");
  await waitForState(citizen.page, "#chat", "connected");
  await agent.page.locator("[data-testid=chat-tab]").first().waitFor({ state: "visible" });
}

/** The texts of a page's chat log, as shown. */
function lines(page) {
  return page.locator("#chat-log [data-testid=chat-line] .chat-body").allInnerTexts();
}

async function sendFrom(page, text) {
  await page.fill("#chat-input", text);
  await page.click("#chat-send");
}

async function axeClean(t, page, what) {
  const problems = [];
  for (const width of ["desktop", "360"]) {
    await page.setViewportSize(VIEWPORTS[width]);
    await settle(page);
    const violations = await runAxe(page);
    const failing = violations.filter((v) => FAILING_IMPACTS.has(v.impact));
    const other = violations.filter((v) => !FAILING_IMPACTS.has(v.impact));
    if (other.length) t.diagnostic(`axe on ${what} at ${width}, not failing:\n${formatViolations(other)}`);
    if (failing.length) problems.push(`axe on ${what} at ${width}:\n${formatViolations(failing)}`);
    if (width === "360") {
      const overflow = await horizontalOverflow(page);
      if (overflow.scrollWidth > VIEWPORTS[360].width) {
        problems.push(`${what} scrolls sideways at 360 px: ${overflow.offenders.map((o) => o.element).join(", ")}`);
      }
    }
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  assert.deepEqual(problems, [], problems.join("\n"));
}

test("a citizen chats with an agent: position, typing, texts both ways in order, read marks, lists and links, markup as text", async (t) => {
  const contract = new ChatContract();
  const agent = await agentConsole(contract);
  const citizen = await hall(contract);

  await citizen.page.click("#chat-button");
  await waitForState(citizen.page, "#chat", "queued");
  await citizen.page.locator("#chat-status[data-position='1']").waitFor({ state: "attached" });
  assert.match(await citizen.page.textContent("#chat-status"), /you are next; estimated wait about 1 min/);
  await axeClean(t, citizen.page, "the hall with a queued chat");

  // The offer at the agent: the service, the wait, accept or reject.
  const offer = agent.page.locator("[data-testid=chat-offer]");
  await offer.waitFor({ state: "visible" });
  assert.match(await offer.textContent(), /Pension benefit inquiry/);
  await axeClean(t, agent.page, "the agent console with a chat offered");
  await agent.page.click("[data-testid=chat-accept]");
  await waitForState(citizen.page, "#chat", "connected");
  assert.match(await citizen.page.textContent("#chat-status"), /王芳 Wang Fang/);
  assert.equal(await citizen.page.evaluate(() => document.activeElement?.id), "chat-input", "ready to type");

  // Typing shows at the agent, and stops showing when the text is sent.
  await citizen.page.fill("#chat-input", "");
  await citizen.page.type("#chat-input", "Hello");
  await agent.page.locator("#chat-typing[data-typing=true]").waitFor({ state: "attached" });
  assert.match(await agent.page.textContent("#chat-typing"), /is typing/);
  const markup = "My card <b>bold</b><img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script>";
  await citizen.page.fill("#chat-input", markup);
  await citizen.page.click("#chat-send");
  await agent.page.locator("#chat-typing[data-typing=false]").waitFor({ state: "attached" });
  await pollUntil(async () => (await lines(agent.page)).length === 1 || null, { what: "the text at the agent" });
  assert.deepEqual(await lines(agent.page), [markup], "the agent sees the characters typed");
  const agentLine = agent.page.locator("#chat-log [data-testid=chat-line]").first();
  assert.equal(await agentLine.locator("b, img, script").count(), 0, "no markup became elements");
  assert.equal(await agent.page.evaluate(() => window.pwned ?? null), null);

  // The agent answers with the materials as a list and a link.
  const materials = "Please bring:\n- ID card\n- Social security card\nGuide: https://example.org/guide?x=1";
  await sendFrom(agent.page, materials);
  await citizen.page.locator("#chat-log [data-from=agent]").waitFor({ state: "visible" });
  const answer = citizen.page.locator("#chat-log [data-from=agent] .chat-body");
  assert.deepEqual(await answer.locator("ul > li").allInnerTexts(), ["ID card", "Social security card"]);
  const link = answer.locator("a");
  assert.equal(await link.getAttribute("href"), "https://example.org/guide?x=1");
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");

  // Both logs hold the same texts in the same order; the citizen's text was read by the agent.
  for (const text of ["one", "two", "three"]) await sendFrom(citizen.page, text);
  await pollUntil(async () => (await lines(agent.page)).length === 5 || null, { what: "five texts at the agent" });
  assert.deepEqual(await lines(agent.page), await lines(citizen.page));
  assert.deepEqual((await lines(citizen.page)).slice(2), ["one", "two", "three"]);
  await citizen.page.locator("#chat-log [data-from=citizen][data-state=read]").nth(3).waitFor({ state: "attached" });
  await agent.page.locator("#chat-log [data-from=agent][data-state=read]").waitFor({ state: "attached" });
  await axeClean(t, citizen.page, "the hall in a chat");
  await axeClean(t, agent.page, "the agent console in a chat");

  // The agent ends it: the citizen gets the transcript and the rating; the agent wraps up.
  await agent.page.click("#chat-end");
  await waitForState(citizen.page, "#chat", "ended");
  await citizen.page.locator("#chat-after").waitFor({ state: "visible" });
  await citizen.page.locator("#rating-form").waitFor({ state: "visible" });
  assert.match(await citizen.page.textContent("#rating-heading"), /rate this chat/);
  assert.equal(await citizen.page.evaluate(() => sessionStorage.getItem("voicedesk.chat")), null, "nothing kept");
  const download = citizen.page.waitForEvent("download");
  await citizen.page.click("#chat-save");
  const saved = await download;
  const chunks = [];
  for await (const chunk of await saved.createReadStream()) chunks.push(chunk);
  const transcript = Buffer.concat(chunks).toString("utf8");
  assert.ok(transcript.includes(markup) && transcript.includes("- ID card"), transcript);
  await axeClean(t, citizen.page, "the hall after a chat");

  await agent.page.locator("#chat-wrap-up").waitFor({ state: "visible" });
  await axeClean(t, agent.page, "the agent console wrapping up a chat");
  await agent.page.click("#chat-wrap-up-save");
  await agent.page.locator("#chats").waitFor({ state: "hidden" });
  assert.equal(contract.seen.filter((s) => s.from === "agent" && s.msg.type === "wrap_up").length, 1);
  assert.deepEqual(citizen.errors, []);
  assert.deepEqual(agent.errors, []);
});

test("a reload restores the conversation and a text sent before it is stored once", async () => {
  const contract = new ChatContract();
  const agent = await agentConsole(contract);
  const citizen = await hall(contract);
  await connect(contract, citizen, agent);
  await sendFrom(citizen.page, "before the reload");
  await sendFrom(agent.page, "an answer");
  await pollUntil(async () => (await lines(citizen.page)).length === 2 || null, { what: "two texts" });

  await citizen.page.reload();
  // The reloaded page starts "rejoining"; it says "connected" once `chat_rejoined` came.
  await waitForState(citizen.page, "#chat-status", "connected");
  assert.deepEqual(await lines(citizen.page), ["before the reload", "an answer"]);
  const rejoin = contract.seen.filter((s) => s.from === "hall" && s.msg.type === "rejoin_chat");
  assert.equal(rejoin.length, 1);
  assert.equal(rejoin[0].msg.after_seq, 2, "asks for what came after the last seq it has");

  // The conversation goes on both ways.
  await sendFrom(agent.page, "after the reload");
  await sendFrom(citizen.page, "still here");
  await pollUntil(async () => (await lines(agent.page)).length === 4 || null, { what: "four texts at the agent" });
  assert.deepEqual(await lines(citizen.page), ["before the reload", "an answer", "after the reload", "still here"]);
  assert.equal(contract.latest().lines.length, 4, "each text stored once");
  assert.deepEqual(citizen.errors, []);
});

test("too long a text is refused before sending, a flood gets a clear error, and the refused text goes again", async () => {
  const contract = new ChatContract({ floodLimit: 2 });
  const agent = await agentConsole(contract);
  const citizen = await hall(contract);
  await connect(contract, citizen, agent);

  await citizen.page.evaluate(() => {
    const input = document.getElementById("chat-input");
    input.value = "字".repeat(2001);
    input.dispatchEvent(new Event("input"));
  });
  await citizen.page.click("#chat-send");
  await citizen.page.locator("#chat-error").waitFor({ state: "visible" });
  assert.match(await citizen.page.textContent("#chat-error"), /2,000/);
  assert.equal(contract.seen.filter((s) => s.msg.type === "send_chat").length, 0, "nothing was sent");
  assert.equal([...(await citizen.page.inputValue("#chat-input"))].length, 2001, "the text is kept to shorten");

  // Exactly 2,000 characters go.
  await sendFrom(citizen.page, "字".repeat(2000));
  await pollUntil(async () => contract.latest().lines.length === 1 || null, { what: "the 2,000 characters stored" });

  // A flood: the second text within the second is refused, clearly, and can be sent again.
  await sendFrom(citizen.page, "flood 1");
  await sendFrom(citizen.page, "flood 2");
  const failed = citizen.page.locator("#chat-log [data-state=failed]");
  await failed.first().waitFor({ state: "visible" });
  assert.match(await citizen.page.textContent("#chat-error"), /too fast/);
  contract.floodLimit = Infinity;
  await failed.first().locator("button[data-retry]").click();
  await pollUntil(async () => (await citizen.page.locator("#chat-log [data-state=failed]").count()) === 0 || null, {
    what: "no failed text left",
  });
  const stored = contract.latest().lines.map((l) => l.text);
  assert.deepEqual(stored.slice(1), ["flood 1", "flood 2"], "each stored once, in order");
  await pollUntil(async () => (await lines(agent.page)).length === 3 || null, { what: "three texts at the agent" });
  assert.deepEqual(citizen.errors, []);
});

test("when nobody can answer, the message form gets what the citizen typed", async () => {
  const contract = new ChatContract();
  const citizen = await hall(contract);
  await citizen.page.click("#chat-button");
  await waitForState(citizen.page, "#chat", "queued");
  // Written while waiting: queued to go when an agent answers.
  await sendFrom(citizen.page, "How long does a pension transfer take?");
  await citizen.page.fill("#chat-input", "And the documents?");
  contract.end(contract.latest(), "no_agents");
  await waitForState(citizen.page, "#chat", "ended");
  await pollUntil(async () => (await citizen.page.getAttribute("#other-ways", "data-reason")) === "no_agents" || null, {
    what: "the other ways brought forward",
  });
  const body = await citizen.page.inputValue("#message-body");
  assert.ok(body.includes("How long does a pension transfer take?") && body.includes("And the documents?"), body);
  assert.equal(await citizen.page.evaluate(() => document.activeElement?.id), "message-body");
  assert.equal(await citizen.page.locator("#chat-after").isVisible(), false, "no transcript of an unanswered chat");
  assert.deepEqual(citizen.errors, []);
});

test("a chat started from the assistant's answer carries the conversation; a chat starts from a service in an area", async () => {
  const contract = new ChatContract();
  const agent = await agentConsole(contract);
  const citizen = await hall(contract);
  await citizen.page.click("#menu-self_service");
  await citizen.page.fill("#assistant-input", "How do I transfer my pension to another city?");
  await citizen.page.click("#assistant-ask");
  const chatButton = citizen.page.locator("[data-testid=assistant-answer] [data-testid=assistant-chat]").last();
  await chatButton.waitFor({ state: "visible" });
  await chatButton.click();
  await waitForState(citizen.page, "#chat", "queued");
  await agent.page.click("[data-testid=chat-accept]");
  await pollUntil(async () => (await lines(agent.page)).length === 1 || null, { what: "the transcript at the agent" });
  const [first] = await lines(agent.page);
  assert.match(first, /asked the assistant/);
  assert.match(first, /How do I transfer my pension to another city\?/);
  await citizen.page.click("#chat-end");
  await waitForState(citizen.page, "#chat", "ended");
  await citizen.page.click("#chat-close");
  await agent.page.click("#chat-wrap-up-save");

  // A service's "Chat" in the counter area starts a chat about that service.
  await citizen.page.click("#menu-counter");
  const service = citizen.page.locator(`#area-counter button[data-chat="pension_transfer"]`);
  await service.evaluate((button) => button.closest("details")?.setAttribute("open", ""));
  await service.click();
  await waitForState(citizen.page, "#chat", "queued");
  assert.equal(contract.latest().service, "pension_transfer");
  assert.equal(await citizen.page.locator("#call-button").isDisabled(), true, "no call during a chat");
  assert.deepEqual(citizen.errors, []);
});

test("an agent holds two chats as tabs with unread counts and waits, canned replies of the service, and transfers one", async (t) => {
  const contract = new ChatContract();
  const agent = await agentConsole(contract);
  const first = await hall(contract, "hall-1");
  const second = await hall(contract, "hall-2");
  await connect(contract, first, agent);
  await connect(contract, second, agent);
  const tabs = agent.page.locator("[data-testid=chat-tab]");
  assert.equal(await tabs.count(), 2);
  await tabs.nth(0).click();

  // A text in the chat not shown counts as unread there, with the citizen's wait for an answer.
  await sendFrom(second.page, "Are you there?");
  const unread = tabs.nth(1).locator("[data-testid=chat-unread]");
  await unread.waitFor({ state: "visible" });
  assert.equal(await unread.textContent(), "1");
  assert.match(await tabs.nth(1).textContent(), /waiting \d/);
  await axeClean(t, agent.page, "the agent console with two chats");
  // Arrow keys move between the tabs; showing a chat reads it.
  await tabs.nth(0).focus();
  await agent.page.keyboard.press("ArrowRight");
  assert.equal(await tabs.nth(1).getAttribute("aria-selected"), "true");
  await unread.waitFor({ state: "hidden" });
  await second.page.locator("#chat-log [data-from=citizen][data-state=read]").waitFor({ state: "attached" });

  // The service's canned replies go into the composer, to read over before sending.
  await agent.page.locator("#chat-canned").waitFor({ state: "visible" });
  await agent.page.click("#chat-canned summary");
  const replies = agent.page.locator("#chat-canned-list button");
  assert.equal(await replies.count(), 3, "the seeded replies of the pension inquiry");
  await replies.nth(1).click();
  assert.match(await agent.page.inputValue("#chat-input"), /social security card number/);
  await agent.page.click("#chat-send");
  await second.page.locator("#chat-log [data-from=agent]").waitFor({ state: "visible" });

  // Transfer: the citizen waits again in the other queue; the agent wraps the chat up.
  await agent.page.selectOption("#chat-transfer-service", "pension_transfer");
  await agent.page.click("#chat-transfer");
  await waitForState(second.page, "#chat", "queued");
  await agent.page.locator("#chat-wrap-up").waitFor({ state: "visible" });
  assert.match(await agent.page.textContent("#chat-facts"), /transferred/);
  await agent.page.click("#chat-wrap-up-save");
  await pollUntil(async () => (await tabs.count()) === 1 || null, { what: "one tab left" });
  assert.deepEqual(agent.errors, []);
});

test("keyboard only: from the hall's entrance to a sent text, the focus always visible", async () => {
  const contract = new ChatContract();
  const agent = await agentConsole(contract);
  const citizen = await hall(contract);
  const { page } = citizen;
  await page.evaluate(() => document.activeElement?.blur());
  let presses = 0;
  for (; presses < 200; presses += 1) {
    await page.keyboard.press("Tab");
    const focus = await focusState(page);
    if (focus?.id === "chat-button") break;
  }
  assert.ok(presses < 200, "Tab reaches the chat button");
  const focus = await focusState(page);
  assert.ok(focus.visible, `the focus shows on ${JSON.stringify(focus)}`);
  await page.keyboard.press("Enter");
  await waitForState(page, "#chat", "queued");
  await agent.page.click("[data-testid=chat-accept]");
  await waitForState(page, "#chat", "connected");
  assert.equal((await focusState(page))?.id, "chat-input", "the focus is where the text goes");
  await page.keyboard.type("Typed without a mouse");
  await page.keyboard.press("Enter");
  await page.locator("#chat-log [data-from=citizen][data-state=read], #chat-log [data-from=citizen][data-state=delivered], #chat-log [data-from=citizen][data-state=sent]").waitFor({ state: "attached" });
  assert.deepEqual(await lines(page), ["Typed without a mouse"]);
  assert.equal(await page.inputValue("#chat-input"), "");
});
