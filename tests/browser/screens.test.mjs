// Every page in its states that matter, at a desktop width (1280×800) and a phone's (360×740),
// against the real server (`voicedesk --demo`, one for the whole file): the hall, the agent
// console, the staff console and the ticket page. Each page/state/width is one test, which
//   (a) saves docs/screenshots/<page>-<state>-<desktop|360>.png when VOICEDESK_SCREENSHOTS=1
//       (Chinese, the pages' default; the hall's entrance also in English and Spanish);
//   (b) runs axe-core (WCAG 2.0/2.1 A and AA, best practices) and fails on any serious or
//       critical violation, printing the rule, impact, elements and help URL;
//   (c) at 360 px, fails when the page scrolls sideways, naming the elements that stick out.
//
// The states build on each other, in the order of the tests: the agent logs in and is
// available; goes away so that two citizens' calls wait in the queue; becomes available again,
// so the first call rings; answers (a second agent answers the other); the staff member watches
// the wallboard and listens to a call; a citizen leaves a message, which staff open in the inbox
// and answer; the citizen reads the answer on the ticket page. Last, a live chat (issue 16)
// between a hall and agent3's console, its messages played by chat-contract.mjs: queued,
// offered, talking (a materials list and a link), ended with the transcript and the rating. Each state is reached once
// (`stage`) and checked at both widths by resizing the same page — except the hall, which picks
// its view by the width it opens at: it is opened at each width (one citizen per width).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  FAILING_IMPACTS,
  VIEWPORTS,
  formatViolations,
  horizontalOverflow,
  runAxe,
  screenshot,
  settle,
} from "./a11y.mjs";
import { ChatContract } from "./chat-contract.mjs";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer, waitForState } from "./harness.mjs";

// An offer rings for 15 s by default: longer here, so the ringing console can be checked at
// both widths before the offer moves on. (The server inherits this process's environment.)
process.env.VOICEDESK_RING_TIMEOUT_SECS = "120";

/** A service of the demo catalogue. */
const SERVICE = "pension_benefit_inquiry";
const ZH = { locale: "zh-CN" };

let server;
let browser;
/** Every page opened, closed at the end. */
const opened = [];

before(async () => {
  server = await startServer("screens");
  browser = await launchBrowser();
});

after(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

async function open(name, path, options = ZH) {
  const page = await openPage(browser, `screens-${name}`, `${server.url}${path}`, { viewport: VIEWPORTS.desktop, ...options });
  opened.push(page);
  return page;
}

/** A state reached once, on first use: `stage(async () => …)` returns a getter of its result. */
function stage(reach) {
  let reached;
  return () => (reached ??= reach());
}

/** A state reached once per width (`reach(width)`), for pages that lay themselves out when they
 * load (the hall chooses its scene or list view by the width it opens at). */
function stagePerWidth(reach) {
  const reached = new Map();
  return (width) => {
    if (!reached.has(width)) reached.set(width, reach(width));
    return reached.get(width);
  };
}

/**
 * The checks of one page in one state at one width: screenshot (when asked for), axe, and at
 * 360 px the horizontal overflow. All problems are collected and reported together.
 */
async function checkScreen(t, page, name, width) {
  await page.setViewportSize(VIEWPORTS[width]);
  await settle(page);
  const saved = await screenshot(page, `${name}-${width}`);
  if (saved) t.diagnostic(`screenshot ${saved}`);

  const problems = [];
  const violations = await runAxe(page);
  const failing = violations.filter((v) => FAILING_IMPACTS.has(v.impact));
  const other = violations.filter((v) => !FAILING_IMPACTS.has(v.impact));
  if (other.length) t.diagnostic(`axe, not failing (minor/moderate):\n${formatViolations(other)}`);
  if (failing.length) {
    problems.push(`axe: ${failing.length} serious/critical violation(s) on ${name} at ${width}:\n${formatViolations(failing)}`);
  }
  if (width === "360") {
    const overflow = await horizontalOverflow(page);
    if (overflow.scrollWidth > VIEWPORTS[360].width) {
      problems.push(
        `horizontal scroll at 360 px on ${name}: document.scrollingElement.scrollWidth is ${overflow.scrollWidth}; sticking out:\n` +
          overflow.offenders.map((o) => `      ${o.element} (right edge ${o.right} px, width ${o.width} px)`).join("\n"),
      );
    }
  }
  if (problems.length) {
    const report = problems.join("\n");
    console.log(`\n${report}\n`);
    assert.fail(report);
  }
}

/** One test per width of one page/state. */
function screenTests(name, title, reach) {
  test(`${title} desktop: screenshot, axe`, async (t) => {
    const page = await reach("desktop");
    await checkScreen(t, page, name, "desktop");
  });
  test(`${title} 360 px: screenshot, axe, no horizontal scroll`, async (t) => {
    const page = await reach("360");
    await checkScreen(t, page, name, "360");
  });
}

async function logIn(page, username) {
  await page.fill("#login-username", username);
  await page.fill("#login-password", DEMO_PASSWORD);
  await page.click("#login-submit");
  await waitForState(page, "#media-state", "connected", 20_000);
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent()).trim();
}

// --- The pages as they open -----------------------------------------------------------------

// The hall opens at each width of its own: it picks its view (scene or list) by the width.
const hallEntrance = stagePerWidth(async (width) => {
  const hall = await open(`hall-entrance-${width}`, "/", { ...ZH, viewport: VIEWPORTS[width] });
  await hall.page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
  return hall.page;
});
screenTests("hall-entrance", "hall entrance", hallEntrance);

for (const [lang, locale] of [["en", "en-US"], ["es", "es-ES"]]) {
  test(`hall entrance in ${lang === "en" ? "English" : "Spanish"} desktop: screenshot, axe`, async (t) => {
    const hall = await open(`hall-entrance-${lang}`, "/", { locale });
    await hall.page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    const shown = await hall.page.getAttribute("html", "lang");
    assert.ok(shown?.startsWith(lang), `a browser in ${locale} gets the hall in lang="${shown}", not ${lang}`);
    await checkScreen(t, hall.page, `hall-entrance-${lang}`, "desktop");
  });
}

const ticketLookup = stage(async () => {
  const ticket = await open("ticket-lookup", "/ticket");
  await ticket.page.locator("#lookup-form").waitFor();
  return ticket;
});
screenTests("ticket-lookup", "ticket lookup form", async () => (await ticketLookup()).page);

const agent = stage(async () => {
  const opened = await open("agent", "/agent");
  await opened.page.locator("#login-form").waitFor();
  return opened;
});
screenTests("agent-login", "agent console login", async () => (await agent()).page);

const staff = stage(async () => {
  const opened = await open("staff", "/staff");
  await opened.page.locator("#login-form").waitFor();
  return opened;
});
screenTests("staff-login", "staff console login", async () => (await staff()).page);

// --- A call: queued, ringing, talking, listened to ------------------------------------------

const agentAvailable = stage(async () => {
  const { page } = await agent();
  await logIn(page, "agent1");
  if ((await waitForState(page, "#agent-state", ["away", "available"])) !== "available") {
    await page.click("#available-button");
    await waitForState(page, "#agent-state", "available");
  }
  return page;
});
screenTests("agent-available", "agent console available", agentAvailable);

/** A citizen at `width` (the page opened at that width) calls about SERVICE; resolves once queued. */
async function citizenCalls(width) {
  const hall = await open(`hall-call-${width}`, "/", { ...ZH, viewport: VIEWPORTS[width] });
  await hall.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
  await hall.page.selectOption("#service-select", SERVICE);
  await hall.page.click("#call-button");
  // The hall may first explain why it asks for the microphone: go on.
  const queued = hall.page.locator('#status[data-state="queued"][data-position]');
  const explained = hall.page.locator("#mic-continue:visible");
  await queued.or(explained).first().waitFor({ timeout: 15_000 });
  if (await explained.count()) await explained.click();
  await queued.waitFor({ timeout: 15_000 });
  return hall.page;
}

// Two citizens, one at each width, wait in the same queue (positions 1 and 2) while agent1 is
// away; agent1 then answers the first, agent2 the second.
const citizens = stage(async () => {
  const agentPage = await agentAvailable();
  await agentPage.click("#away-button");
  await waitForState(agentPage, "#agent-state", "away");
  const desktop = await citizenCalls("desktop");
  const phone = await citizenCalls("360");
  return { desktop, 360: phone };
});
screenTests("hall-queued", "hall queued with position", async (width) => (await citizens())[width]);

const agentRinging = stage(async () => {
  await citizens();
  const page = await agentAvailable();
  await page.click("#available-button");
  await page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
  await waitForState(page, "#agent-state", "ringing");
  return page;
});
screenTests("agent-ringing", "agent console ringing offer", agentRinging);

const talking = stage(async () => {
  const agentPage = await agentRinging();
  const halls = await citizens();
  await agentPage.click("#accept-button");
  await waitForState(halls.desktop, "#status", "connected");
  await agentPage.locator("#current-call").waitFor({ state: "visible" });
  await waitForState(agentPage, "#agent-state", "on_call");
  // agent2 (a page not checked here) answers the citizen on the phone.
  const second = await open("agent2", "/agent");
  await logIn(second.page, "agent2");
  if ((await waitForState(second.page, "#agent-state", ["away", "available", "ringing"])) === "away") {
    await second.page.click("#available-button");
  }
  await second.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
  await second.page.click("#accept-button");
  await waitForState(halls[360], "#status", "connected");
  return { halls, agentPage };
});
screenTests("hall-connected", "hall connected call", async (width) => (await talking()).halls[width]);
screenTests("agent-call", "agent console in a call", async () => (await talking()).agentPage);

const staffWallboard = stage(async () => {
  await talking();
  const { page } = await staff();
  await logIn(page, "staff1");
  await waitForState(page, "#wallboard", "live", 15_000);
  await page.locator('#calls-table tr[data-call-id][data-phase="talking"]').nth(1).waitFor({ timeout: 15_000 });
  return page;
});
screenTests("staff-wallboard", "staff console wallboard", staffWallboard);

const staffListening = stage(async () => {
  const page = await staffWallboard();
  const row = page.locator('#calls-table tr[data-call-id][data-phase="talking"]').first();
  const callId = await row.getAttribute("data-call-id");
  await row.locator("[data-action=monitor]").click();
  await page.locator(`#current-mode[data-mode="monitor"][data-call-id="${callId}"]`).waitFor({ timeout: 10_000 });
  listenedTo = callId;
  return page;
});
/** The call staff listen to. */
let listenedTo;
screenTests("staff-listening", "staff console listening to a call", staffListening);

// --- A message: the inbox, the message, the answer on the ticket page -----------------------

const message = stage(async () => {
  // A citizen (a page of its own, not checked here) leaves a text message.
  const hall = await open("hall-message", "/");
  await hall.page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
  await hall.page.selectOption("#message-service", "pension_transfer");
  await hall.page.fill("#message-name", "张先生");
  await hall.page.fill("#message-phone", "138 0000 0000");
  await hall.page.fill("#message-body", "我想咨询跨省转移养老保险关系需要多久,需要准备哪些材料?");
  await hall.page.click("#message-submit");
  await hall.page.locator("#message-result").waitFor({ state: "visible", timeout: 15_000 });
  return { ticket: await text(hall.page, "#result-ticket"), link: await hall.page.getAttribute("#result-link", "href") };
});

const staffInbox = stage(async () => {
  const page = await staffListening();
  const { ticket } = await message();
  // Staff are done listening; the message shows up in the inbox.
  await page.locator(`#calls-table tr[data-call-id="${listenedTo}"] [data-action=leave]`).click();
  await page.locator('#current-mode[data-mode="none"]').waitFor({ timeout: 10_000 });
  const link = page.locator(`#inbox-table button.ticket-link:text-is("${ticket}")`);
  await pollUntil(
    async () => {
      if (await link.count()) return true;
      await page.click("#inbox-refresh");
      return false;
    },
    { what: `ticket ${ticket} in the inbox`, timeoutMs: 15_000, intervalMs: 1_000 },
  );
  return page;
});
screenTests("staff-inbox", "staff console inbox with a message", staffInbox);

const staffMessage = stage(async () => {
  const page = await staffInbox();
  const { ticket } = await message();
  await page.locator(`#inbox-table button.ticket-link:text-is("${ticket}")`).click();
  await page.locator("#inbox-detail").waitFor({ state: "visible" });
  return page;
});
screenTests("staff-message", "staff console message open", staffMessage);

const ticketReply = stage(async () => {
  const page = await staffMessage();
  const { link } = await message();
  await page.click("#inbox-assign");
  await pollUntil(async () => (await page.getAttribute("#inbox-detail", "data-state")) === "assigned", { what: "assigned" });
  await page.fill(
    "#inbox-reply",
    "您好,跨省转移分三步:\n1. 向转入地社保经办机构提出申请。\n2. 转出地办理转出。\n3. 转入地办结转入。\n一般在 45 个工作日内办结。",
  );
  await page.click("#inbox-send-reply");
  await pollUntil(async () => (await page.getAttribute("#inbox-detail", "data-state")) === "answered", { what: "answered" });
  const view = await open("ticket-reply", link);
  await pollUntil(async () => (await view.page.getAttribute("#ticket-state", "data-state")) === "answered", {
    what: "the reply on the ticket page",
    timeoutMs: 15_000,
  });
  return view.page;
});
screenTests("ticket-reply", "ticket page with a reply", ticketReply);

// --- A live chat: queued, offered, talking, ended ---------------------------------------------

const chatContract = new ChatContract();

async function openChatPage(name, path, options) {
  const page = await openPage(browser, `screens-${name}`, `${server.url}${path}`, { viewport: VIEWPORTS.desktop, ...options }, (context) =>
    chatContract.attach(context, name),
  );
  opened.push(page);
  return page;
}

const chatAgent = stage(async () => {
  const { page } = await openChatPage("chat-agent", "/agent", ZH);
  await logIn(page, "agent3");
  return page;
});

/** A citizen at `width` starts a chat about SERVICE; resolves once queued. */
const chatQueued = stagePerWidth(async (width) => {
  await chatAgent();
  const { page } = await openChatPage(`hall-chat-${width}`, "/", { ...ZH, viewport: VIEWPORTS[width] });
  // Connected: the page keeps the citizen token the server's welcome gave it.
  await page.waitForFunction(() => sessionStorage.getItem("voicedesk.citizen_token"));
  await page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
  await page.selectOption("#service-select", SERVICE);
  await page.click("#chat-button");
  await page.locator('#chat[data-state="queued"] #chat-status[data-position]').waitFor();
  return page;
});
screenTests("hall-chat-queued", "hall with a chat queued", chatQueued);

const chatOffered = stage(async () => {
  await chatQueued("desktop");
  const page = await chatAgent();
  await page.locator("[data-testid=chat-offer]").first().waitFor({ state: "visible" });
  return page;
});
screenTests("agent-chat-offered", "agent console with a chat offered", chatOffered);

/** Both chats accepted and talking; the desktop hall's with a few texts each way. */
const chatTalking = stage(async () => {
  await chatQueued("360");
  const agentPage = await chatOffered();
  for (let i = 0; i < 2; i += 1) {
    await agentPage.locator("[data-testid=chat-accept]").first().click();
    await pollUntil(async () => (await agentPage.locator("[data-testid=chat-tab]").count()) === i + 1 || null, { what: "the chat's tab" });
  }
  const desktop = await chatQueued("desktop");
  const phone = await chatQueued("360");
  for (const page of [desktop, phone]) await page.locator('#chat[data-state="connected"]').waitFor();
  await agentPage.locator("[data-testid=chat-tab]").first().click();
  const say = async (page, text) => {
    await page.fill("#chat-input", text);
    await page.click("#chat-send");
  };
  for (const page of [desktop, phone]) {
    await say(page, "您好，我想查询养老金到账时间，社保卡号是 <b>6222</b>。");
  }
  await say(agentPage, "您好，请准备以下材料：\n- 身份证\n- 社会保障卡\n办事指南：https://example.org/pension");
  await desktop.locator("#chat-log [data-from=agent]").waitFor();
  await say(desktop, "好的，谢谢！");
  await desktop.fill("#chat-input", "还有一个问题");
  await agentPage.locator("#chat-typing[data-typing=true]").waitFor({ state: "attached" });
  return { agentPage, desktop, phone };
});
screenTests("hall-chat-talking", "hall in a chat", async (width) => {
  const { desktop, phone } = await chatTalking();
  return width === "desktop" ? desktop : phone;
});
screenTests("agent-chat-talking", "agent console with two chats", async () => (await chatTalking()).agentPage);

const chatEnded = stage(async () => {
  const { agentPage, desktop, phone } = await chatTalking();
  for (let i = 0; i < 2; i += 1) {
    await agentPage.locator("[data-testid=chat-tab]").nth(i).click();
    await agentPage.click("#chat-end");
    await agentPage.locator("#chat-wrap-up").waitFor({ state: "visible" });
  }
  for (const page of [desktop, phone]) await page.locator("#rating-form").waitFor({ state: "visible" });
  return { agentPage, desktop, phone };
});
screenTests("hall-chat-ended", "hall after a chat: transcript and rating", async (width) => {
  const { desktop, phone } = await chatEnded();
  return width === "desktop" ? desktop : phone;
});
screenTests("agent-chat-wrap-up", "agent console wrapping up a chat", async () => (await chatEnded()).agentPage);
