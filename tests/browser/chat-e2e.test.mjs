// The live chat end to end (issue 16): the real server (`voicedesk --demo`) serves the chat
// between a hall and an agent console — offered, accepted, typing, texts both ways committed
// and in order, markup shown as text, a materials list, a reload of the hall restoring the
// conversation, the citizen ending it, the agent's wrap-up and the citizen's rating.
// (chat.test.mjs checks the pages' other states against the contract, chat-contract.mjs.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer, waitForState } from "./harness.mjs";

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
