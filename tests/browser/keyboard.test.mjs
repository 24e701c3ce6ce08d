// The hall by keyboard alone: from the entrance to a connected call and back, with only
// page.keyboard (Tab, Shift+Tab, Enter, Space, arrow keys) in the citizen's page, while an
// agent (logged in on another page, with the mouse) answers. After every key the focused
// element must show its focus: it matches :focus-visible and has an outline or a box-shadow.
// The hall is found by roles and accessible names (English), not by ids, so the test follows
// the page's meaning rather than its markup.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { focusState } from "./a11y.mjs";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer, waitForState } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer("keyboard");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The longest run of Tab presses looked at before a control counts as unreachable. */
const MAX_TABS = 60;

/**
 * Keys pressed in one page, each followed by a look at the focus: `press(key, why)` records
 * `{ key, why, focus }` in `steps` and a problem when the focus is lost or not shown.
 */
function keyboardOf(page) {
  const steps = [];
  const problems = [];
  async function press(key, why) {
    await page.keyboard.press(key);
    await page.waitForTimeout(80);
    const focus = await focusState(page);
    steps.push({ key, why, focus });
    const where = `after ${key} (${why})`;
    if (!focus) problems.push(`${where}: nothing has the focus (it fell back to <body>)`);
    else if (!focus.visible) {
      problems.push(
        `${where}: <${focus.tag}${focus.id ? ` id=${focus.id}` : ""}> "${focus.name}" shows no focus ` +
          `(:focus-visible ${focus.focusVisible}, outline ${focus.outline}, box-shadow ${focus.boxShadow})`,
      );
    }
    return focus;
  }
  /** Tabs forward (or backward with `shift`) until `locator` has the focus. */
  async function tabTo(locator, what, { shift = false } = {}) {
    for (let i = 0; i < MAX_TABS; i++) {
      if (await locator.evaluate((el) => el === document.activeElement).catch(() => false)) return;
      await press(shift ? "Shift+Tab" : "Tab", `towards ${what}`);
    }
    assert.fail(`${what} not reached in ${MAX_TABS} ${shift ? "Shift+Tab" : "Tab"} presses; focus went: ${log()}`);
  }
  function log() {
    return steps
      .map((s) => `${s.key} → ${s.focus ? `<${s.focus.tag}> "${s.focus.name}"${s.focus.visible ? "" : " (NO VISIBLE FOCUS)"}` : "<body>"}`)
      .join("; ");
  }
  return { steps, problems, press, tabTo, log };
}

test("the hall by keyboard: choose a service, call, talk to the agent, hang up; focus always visible", async (t) => {
  const agent = await openPage(browser, "keyboard-agent", `${server.url}/agent`, { locale: "en-US" });
  const hall = await openPage(browser, "keyboard-hall", `${server.url}/`, {
    locale: "en-US",
    viewport: { width: 1280, height: 800 },
  });
  try {
    // The agent, with the mouse: logs in and is available.
    await agent.page.fill("#login-username", "agent1");
    await agent.page.fill("#login-password", DEMO_PASSWORD);
    await agent.page.click("#login-submit");
    await waitForState(agent.page, "#media-state", "connected", 20_000);
    if ((await waitForState(agent.page, "#agent-state", ["away", "available"])) !== "available") {
      await agent.page.click("#available-button");
      await waitForState(agent.page, "#agent-state", "available");
    }

    // The citizen, with the keyboard only.
    const { page } = hall;
    const keys = keyboardOf(page);
    const callButton = page.getByRole("button", { name: /^call$/i });
    await callButton.waitFor();
    const service = page.getByRole("combobox", { name: /service/i }).first();
    await pollUntil(async () => (await service.locator("option").count()) > 1, { what: "the service list" });

    // A service: reach the list and move down it with the arrow keys.
    await keys.tabTo(service, "the service list");
    const first = await service.inputValue();
    await keys.press("ArrowDown", "the next service");
    await keys.press("ArrowDown", "the next service");
    const chosen = await service.inputValue();
    assert.notEqual(chosen, first, "the arrow keys change the service");
    await keys.press("ArrowUp", "back one service");
    const picked = await service.inputValue();
    t.diagnostic(`service ${first} → ${chosen} → ${picked}`);

    // Call.
    await keys.tabTo(callButton, "the Call button");
    await keys.press("Enter", "call");
    // The hall may first explain why it asks for the microphone, with a button to go on.
    const waiting = page.locator('[role="status"][data-state="queued"], [role="status"][data-state="connected"]');
    const goOn = page.getByRole("button", { name: /^(continue|allow|go on)/i }).locator("visible=true");
    await waiting.or(goOn).first().waitFor({ timeout: 15_000 });
    if (await goOn.count()) {
      await keys.tabTo(goOn.first(), "the button that goes on to the microphone");
      await keys.press("Enter", "allow the microphone");
    }

    // The agent answers (mouse).
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");

    // Connected, and what the citizen needs during the call is in reach of the keyboard.
    await page.locator('[role="status"][data-state="connected"]').waitFor({ timeout: 15_000 });
    const focusNow = await focusState(page);
    t.diagnostic(`focus once connected: ${JSON.stringify(focusNow)}`);
    const mute = page.getByRole("button", { name: /^mute$/i });
    await keys.tabTo(mute, "the Mute button");
    // The same button from here on, whatever its name says while pressed.
    const muteButton = await mute.elementHandle();
    await keys.press("Space", "mute");
    await pollUntil(async () => (await muteButton.getAttribute("aria-pressed")) === "true", { what: "Mute to be pressed" });
    await keys.press("Space", "unmute");
    await pollUntil(async () => (await muteButton.getAttribute("aria-pressed")) === "false", { what: "Mute to be released" });
    const hangUp = page.getByRole("button", { name: /^hang up$/i });
    await keys.tabTo(hangUp, "the Hang up button");
    await keys.press("Enter", "hang up");
    await page.locator('[role="status"][data-state="ended"]').waitFor({ timeout: 15_000 });
    // After the call the focus stays somewhere useful: the next Tab lands on a visible control.
    await keys.press("Tab", "on after the call");

    t.diagnostic(`keys: ${keys.log()}`);
    assert.deepEqual(keys.problems, [], `focus not visible at some steps:\n${keys.problems.join("\n")}\nsteps: ${keys.log()}`);
    assert.deepEqual(hall.errors, [], "no script errors in the hall");
  } finally {
    await agent.context.close();
    await hall.context.close();
  }
});
