// What a citizen, an agent and a supervisor trip over the first time (issue 14): each moment is
// walked here as a new user would, in real Chromium against the real server (`voicedesk --demo`),
// and the test names what the person must see. Each of these failed before the fix.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  repoRoot,
  startServer,
  waitForLang,
  waitForState,
} from "./harness.mjs";

const DESKTOP = { width: 1280, height: 900 };
const AGENT_NAME = "王芳 Wang Fang";
const STAFF_NAME = "陈静 Chen Jing";

let server;
let browser;

before(async () => {
  server = await startServer("first-use");
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

/** An agent page signed in as agent1, available (or away when `available` is false). */
async function agentPage(name, { available = true } = {}) {
  const agent = await openPage(browser, name, `${server.url}/agent`, { locale: "en-US", viewport: DESKTOP });
  await logIn(agent.page, "agent1");
  await waitForState(agent.page, "#agent-state", ["away", "available"]);
  if (available) {
    await agent.page.click("#available-button");
    await waitForState(agent.page, "#agent-state", "available");
  } else if ((await agent.page.getAttribute("#agent-state", "data-state")) !== "away") {
    await agent.page.click("#away-button");
    await waitForState(agent.page, "#agent-state", "away");
  }
  return agent;
}

/** Whether the element's box lies wholly inside the viewport. */
function onScreen(page, selector) {
  return page.locator(selector).evaluate((node) => {
    const box = node.getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
  });
}

test("a call started from an area panel keeps its status, Mute and Hang up on screen; other services' call buttons wait; the citizen reads 'you hung up'", async () => {
  const agent = await agentPage("first-use-area-agent");
  const hall = await openPage(browser, "first-use-area-hall", `${server.url}/`, { locale: "en-US", viewport: DESKTOP });
  const { page } = hall;
  try {
    await waitForLang(page);
    // The counter area, its last service group opened (far down the page), "Call an agent".
    await page.click("[data-testid=menu-counter]");
    const group = page.locator("#area-counter details.service-group").last();
    await group.locator("summary").click();
    const callAbout = group.locator("[data-call]").first();
    const service = await callAbout.getAttribute("data-call");
    await callAbout.scrollIntoViewIfNeeded();
    await callAbout.click();
    await page.click("#mic-continue");
    await waitForState(page, "#status", ["queued", "connected"]);

    // During the call no other service's "Call an agent" can be pressed, and it says why.
    const others = page.locator(`[data-call]:not([data-call="${service}"])`);
    assert.ok((await others.count()) > 5);
    const stillEnabled = await others.evaluateAll((buttons) => buttons.filter((b) => !b.disabled).length);
    assert.equal(stillEnabled, 0, "every area call button is disabled during the call");
    assert.match(await others.first().getAttribute("title"), /already on a call/i);

    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");
    await waitForState(page, "#status", "connected");
    // The hall moved to the rest area; the call's status, Hang up and the focused control are
    // in view once the page has settled (the reveal runs on the next frame).
    await page.locator("#area-rest.current").waitFor();
    await page.waitForFunction(() => {
      const inView = (node) => {
        const box = node.getBoundingClientRect();
        return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
      };
      return inView(document.getElementById("status")) && inView(document.getElementById("hangup-button"));
    }, null, { timeout: 5_000 });
    assert.ok(await onScreen(page, "#status"), "the status line is on screen");
    assert.ok(await onScreen(page, "#hangup-button"), "Hang up is on screen");
    const focused = await page.evaluate(() => {
      const node = document.activeElement;
      const box = node.getBoundingClientRect();
      return { id: node.id, inView: box.top >= 0 && box.bottom <= window.innerHeight };
    });
    assert.ok(focused.inView, `the focused control (#${focused.id}) is on screen`);

    // The citizen hangs up and is told so in their own words; the area buttons work again.
    await page.click("#hangup-button");
    await waitForState(page, "#status", "ended");
    assert.equal((await page.textContent("#status")).trim(), "Call ended (you hung up).");
    assert.equal(await others.evaluateAll((buttons) => buttons.filter((b) => b.disabled).length), 0);
    assert.deepEqual(hall.errors, []);
    assert.deepEqual(agent.errors, []);
  } finally {
    await hall.context.close();
    await agent.context.close();
  }
});

test("a supervisor's barge, leave and take over: the citizen's words follow, the agent reads why the call left them, the audit log names the agent of each moment", async () => {
  const agent = await agentPage("first-use-support-agent");
  const staff = await openPage(browser, "first-use-support-staff", `${server.url}/staff`, { locale: "en-US", viewport: DESKTOP });
  const hall = await openPage(browser, "first-use-support-hall", `${server.url}/`, { locale: "en-US", viewport: DESKTOP });
  try {
    await logIn(staff.page, "staff1");
    await waitForState(staff.page, "#wallboard", "live", 15_000);
    await hall.page.click("#call-button");
    await hall.page.click("#mic-continue");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");
    await waitForState(hall.page, "#status", "connected");
    const row = staff.page.locator('#calls-table tr[data-call-id][data-phase="talking"]');
    await row.waitFor({ timeout: 15_000 });
    const callId = await row.getAttribute("data-call-id");

    // Barge, then leave: the citizen is told the supervisor left (not "has joined" any more).
    await row.locator("[data-action=barge]").click();
    await waitForState(hall.page, "#status", "supervisor_joined");
    await row.locator("[data-action=leave]").click();
    await staff.page.locator('#current-mode[data-mode="none"]').waitFor({ timeout: 10_000 });
    await waitForState(hall.page, "#status", "connected");
    assert.equal(
      (await hall.page.textContent("#status")).trim(),
      `The supervisor has left the call. You are talking with ${AGENT_NAME}.`,
    );

    // Monitor, then take over: the agent's console says at the top of the wrap-up who took it.
    await row.locator("[data-action=monitor]").click();
    await staff.page.locator('#current-mode[data-mode="monitor"]').waitFor({ timeout: 10_000 });
    await row.locator("[data-action=take_over]").click();
    await staff.page.locator('#current-mode[data-mode="take_over"]').waitFor({ timeout: 10_000 });
    await agent.page.locator("#wrap-up").waitFor({ state: "visible", timeout: 10_000 });
    const reason = agent.page.locator("#wrap-up-reason");
    assert.equal(await reason.getAttribute("data-reason"), "taken_over");
    assert.equal(
      (await reason.textContent()).trim(),
      `${STAFF_NAME} took this call over: the citizen is talking with them now and you are no longer on the call. Wrap it up below.`,
    );
    assert.ok(await onScreen(agent.page, "#wrap-up-reason"), "the reason is on screen with the wrap-up");
    // The wrap-up form is described by the reason, so a screen reader hears it with the focus.
    assert.equal(await agent.page.getAttribute("#wrap-up-form", "aria-describedby"), "wrap-up-reason");

    // The audit log: the rows from before the take over name the agent who answered; the
    // wallboard names the staff member now.
    await row.locator("td").nth(2).filter({ hasText: STAFF_NAME }).waitFor({ timeout: 10_000 });
    await staff.page.click("#audit-refresh-button");
    const rows = staff.page.locator(`#audit-table tr[data-audit-call-id="${callId}"]`);
    await staff.page.locator(`#audit-table tr[data-audit-call-id="${callId}"][data-audit-action="take_over"]`).waitFor({ state: "attached", timeout: 10_000 });
    const seen = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({ action: tr.dataset.auditAction, mode: tr.dataset.auditMode, call: tr.cells[2].textContent })),
    );
    // Barge, leave, monitor, take over: all from before the take over was done.
    assert.equal(seen.length, 4, JSON.stringify(seen));
    for (const entry of seen) {
      assert.match(entry.call, new RegExp(AGENT_NAME), `${entry.action}/${entry.mode} names the agent: ${JSON.stringify(seen)}`);
      assert.doesNotMatch(entry.call, new RegExp(STAFF_NAME), `${entry.action}/${entry.mode}: ${JSON.stringify(seen)}`);
    }

    await row.locator("[data-action=leave]").click();
    await waitForState(hall.page, "#status", "ended");
    // The leave after the take over is the staff member's own call: it names them.
    await staff.page.click("#audit-refresh-button");
    await rows.nth(4).waitFor({ state: "attached", timeout: 10_000 });
    const last = await rows.first().evaluate((tr) => ({ action: tr.dataset.auditAction, call: tr.cells[2].textContent }));
    assert.equal(last.action, "leave");
    assert.match(last.call, new RegExp(STAFF_NAME));
    assert.deepEqual(hall.errors, []);
    assert.deepEqual(agent.errors, []);
    assert.deepEqual(staff.errors, []);
  } finally {
    await hall.context.close();
    await agent.context.close();
    await staff.context.close();
  }
});

test("a reload during a call brings the citizen back to the rest area with the call, not to the entrance", async () => {
  const agent = await agentPage("first-use-reload-agent");
  const hall = await openPage(browser, "first-use-reload-hall", `${server.url}/`, { locale: "en-US", viewport: DESKTOP });
  try {
    await hall.page.click("#call-button");
    await hall.page.click("#mic-continue");
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");
    await waitForState(hall.page, "#status", "connected");

    await hall.page.reload();
    await waitForState(hall.page, "#status", "connected", 20_000);
    await hall.page.locator("#area-rest.current").waitFor({ timeout: 10_000 });
    assert.equal(await hall.page.getAttribute("[data-testid=menu-rest]", "aria-current"), "location");
    assert.ok(await hall.page.locator("#rest-connected").isVisible(), "the rest area says the citizen is talking");
    await hall.page.waitForFunction(() => /rest area/i.test(document.getElementById("scene-where").textContent));
    assert.doesNotMatch(await hall.page.textContent("#scene-where"), /hall floor/i);

    await hall.page.click("#hangup-button");
    await waitForState(hall.page, "#status", "ended");
    assert.deepEqual(hall.errors, []);
  } finally {
    await hall.context.close();
    await agent.context.close();
  }
});

test("while every agent is away the citizen is told so honestly, and the supervisor's wallboard puts the numbers and the waiting calls first, longest first", async () => {
  const agent = await agentPage("first-use-away-agent", { available: false });
  const staff = await openPage(browser, "first-use-away-staff", `${server.url}/staff`, { locale: "en-US", viewport: DESKTOP });
  const first = await openPage(browser, "first-use-away-hall-1", `${server.url}/`, { locale: "en-US", viewport: DESKTOP });
  const second = await openPage(browser, "first-use-away-hall-2", `${server.url}/`, { locale: "en-US", viewport: DESKTOP });
  try {
    await logIn(staff.page, "staff1");
    await waitForState(staff.page, "#wallboard", "live", 15_000);

    await first.page.click("#call-button");
    await first.page.click("#mic-continue");
    await first.page.locator('#status[data-state="queued"][data-position="1"]').waitFor({ timeout: 15_000 });
    const said = (await first.page.textContent("#status")).trim();
    assert.doesNotMatch(said, /you are next/i, "no promise nobody can keep");
    assert.match(said, /No agent is available right now/);
    assert.match(said, /leave a message/);
    assert.equal((await first.page.textContent("#rest-eta")).trim(), "No agent is available right now; your place is kept.");

    await second.page.click("#call-button");
    await second.page.click("#mic-continue");
    await second.page.locator('#status[data-state="queued"][data-position="2"]').waitFor({ timeout: 15_000 });

    // The supervisor's first screen: the headline numbers and the live calls.
    const calls = staff.page.locator('#calls-table tr[data-call-id][data-phase="queued"]');
    await staff.page.waitForFunction(() => document.querySelectorAll('#calls-table tr[data-phase="queued"]').length === 2);
    await staff.page.locator('#tile-waiting:text-is("2")').waitFor({ timeout: 10_000 });
    assert.equal(await staff.page.getAttribute('.tile[data-tile="agents"]', "data-level"), "alert");
    assert.equal((await staff.page.textContent("#tile-agents-note")).trim(), "no agent free");
    for (const selector of ["#wallboard-tiles", "#calls-table tbody tr:first-child"]) {
      const box = await staff.page.locator(selector).boundingBox();
      assert.ok(box && box.y + box.height <= DESKTOP.height, `${selector} is on the first screen (${JSON.stringify(box)})`);
    }
    const inbox = await staff.page.locator("#inbox").boundingBox();
    assert.ok(inbox.y > DESKTOP.height / 2, "the inbox is other work, further down");
    assert.ok(await staff.page.locator("#staff-nav a[href='#inbox']").isVisible(), "one link away");
    // The raw audio players are folded away under "Audio check".
    assert.equal(await staff.page.locator("#remote-audio-0").isVisible(), false);
    assert.ok(await staff.page.locator("#audio-check > summary").isVisible());

    // Longest first; the Time heading reverses the order.
    const order = () => calls.evaluateAll((trs) => trs.map((tr) => tr.dataset.callId));
    const [olderFirst] = await order();
    assert.equal(await staff.page.getAttribute("#calls-duration-col", "aria-sort"), "descending");
    await staff.page.click("#calls-sort");
    assert.equal(await staff.page.getAttribute("#calls-duration-col", "aria-sort"), "ascending");
    const reversed = await order();
    assert.equal(reversed.at(-1), olderFirst, "the longest-waiting call is last once reversed");

    for (const hall of [first, second]) {
      await hall.page.click("#hangup-button");
      await waitForState(hall.page, "#status", "ended");
    }
    assert.deepEqual(first.errors, []);
    assert.deepEqual(staff.errors, []);
  } finally {
    await first.context.close();
    await second.context.close();
    await staff.context.close();
    await agent.context.close();
  }
});

test("every page has an icon: no 404 on /favicon.ico or anywhere else", async () => {
  const response = await fetch(`${server.url}/favicon.ico`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^image\//);
  for (const path of ["/", "/agent", "/staff", "/ticket"]) {
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const missing = [];
    page.on("response", (r) => {
      // (401 from /api/me is the console's "not signed in", not a missing file.)
      if (r.status() === 404) missing.push(`${r.status()} ${r.url()}`);
    });
    try {
      await page.goto(`${server.url}${path}`);
      await waitForLang(page);
      const icon = await page.evaluate(async () => {
        const link = document.querySelector("link[rel~=icon]");
        return link ? (await fetch(link.href)).status : null;
      });
      assert.equal(icon, 200, `${path} names an icon that loads`);
      assert.deepEqual(missing, [], `${path}: nothing is missing`);
    } finally {
      await context.close();
    }
  }
});

test("the Chinese text uses Chinese punctuation", async () => {
  const zh = JSON.parse(await readFile(join(repoRoot, "agent-console/assets/i18n/zh-CN.json"), "utf8"));
  // An ASCII , : ; ? ! ( ) touching a Chinese character (placeholders, times like 09:00, URLs and
  // Latin text keep ASCII).
  const ascii = /[\u4e00-\u9fff“”][,:;?!()]|[,:;?!()][\u4e00-\u9fff“”]/;
  const bad = Object.entries(zh).filter(([, text]) => ascii.test(text.replace(/\{\w+\}/g, "")));
  assert.deepEqual(bad, [], "strings with ASCII punctuation in Chinese text");
  // And as a citizen sees the hall and a supervisor the console.
  for (const path of ["/", "/staff", "/agent", "/ticket"]) {
    const { page, context } = await openPage(browser, `first-use-zh${path.replace("/", "-")}`, `${server.url}${path}`, { locale: "zh-CN" });
    try {
      await waitForLang(page);
      const text = await page.evaluate(() => document.body.innerText);
      const lines = text.split("\n").filter((line) => ascii.test(line));
      assert.deepEqual(lines, [], `${path} shows ASCII punctuation in Chinese text`);
    } finally {
      await context.close();
    }
  }
});

test("each console explains itself to a first-time user, in the three languages", async () => {
  for (const path of ["/agent", "/staff"]) {
    const { page, context, errors } = await openPage(browser, `first-use-guide${path.replace("/", "-")}`, `${server.url}${path}`, { locale: "en-US" });
    try {
      await waitForLang(page);
      if (path === "/staff") await logIn(page, "staff1");
      const guide = page.locator("#guide");
      const titles = new Set();
      for (const lang of ["en", "zh-CN", "es"]) {
        await page.selectOption("#lang-switch", lang);
        await page.locator(`html[lang="${lang}"]`).waitFor({ state: "attached" });
        const summary = (await guide.locator("summary").textContent()).trim();
        assert.doesNotMatch(summary, /^guide\./, `${path} ${lang}: a string, not a key`);
        titles.add(summary);
        await guide.locator("summary").click();
        const terms = await guide.locator("dt").allTextContents();
        const texts = await guide.locator("dd").allTextContents();
        assert.ok(terms.length >= 4 && texts.every((d) => d.trim().length > 40 && !d.startsWith("guide.")), `${path} ${lang}: ${texts}`);
        await guide.locator("summary").click();
      }
      assert.equal(titles.size, 3, `${path}: three languages`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
});
