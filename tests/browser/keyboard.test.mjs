// The hall by keyboard alone: from the entrance to a connected call and back, with only
// page.keyboard (Tab, Shift+Tab, Enter, Space, arrow keys) in the citizen's page — into the
// scene, walking to the counter service area with the arrow keys, calling about one of its
// services, past the microphone explanation, mute and unmute, hang up — while an agent (logged
// in on another page, with the mouse) answers. After every key the focused
// element must show its focus: it matches :focus-visible and has an outline or a box-shadow.
// The hall is found by roles and accessible names (English), not by ids, so the test follows
// the page's meaning rather than its markup.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { focusState, nextFrames, settle } from "./a11y.mjs";
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
    // Focus moves made in the key's handlers, or on the next frame, have happened by now.
    await nextFrames(page);
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
  /** A look at the focus without a key: after the page changed by itself (queued, answered). */
  async function checkpoint(why) {
    const focus = await focusState(page);
    steps.push({ key: "(no key)", why, focus });
    if (!focus) problems.push(`${why}: the focus was lost (it fell back to <body>)`);
    else if (!focus.visible) problems.push(`${why}: <${focus.tag}> "${focus.name}" has the focus but shows none`);
    return focus;
  }
  /** Tabs forward (or backward with `shift`) until `locator` has the focus. */
  async function tabTo(locator, what, { shift = false } = {}) {
    await locator.waitFor({ state: "visible", timeout: 10_000 }).catch((error) => {
      throw new Error(`${what} is not on the page (${locator})`, { cause: error });
    });
    const target = await locator.elementHandle();
    for (let i = 0; i < MAX_TABS; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return;
      await press(shift ? "Shift+Tab" : "Tab", `towards ${what}`);
    }
    assert.fail(`${what} not reached in ${MAX_TABS} ${shift ? "Shift+Tab" : "Tab"} presses; focus went: ${log()}`);
  }
  function log() {
    return steps
      .map((s) => `${s.key === "(no key)" ? s.why : s.key} → ${s.focus ? `<${s.focus.tag}> "${s.focus.name}"${s.focus.visible ? "" : " (NO VISIBLE FOCUS)"}` : "<body>"}`)
      .join("; ");
  }
  return { steps, problems, press, checkpoint, tabTo, log };
}

test("the hall by keyboard: walk to the counter, call about a service, talk to the agent, mute, hang up; focus always visible", { timeout: 180_000 }, async (t) => {
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

    // The citizen, with the keyboard only: into the hall's scene, walk with the arrow keys to
    // the counter service area, and call about one of its services.
    const { page } = hall;
    const keys = keyboardOf(page);
    const scene = page.getByRole("application", { name: /hall/i });
    await scene.waitFor();
    await keys.tabTo(scene, "the hall's scene");
    const counter = page.getByRole("region", { name: /^counter service area$/i });
    for (let i = 0; i < 40 && !(await counter.isVisible()); i++) await keys.press("ArrowUp", "walk towards the counter");
    assert.ok(await counter.isVisible(), "the arrow keys walk to the counter service area");
    // The counter's services are grouped by insurance, the groups folded: open the pension one.
    const pension = counter.getByRole("group").filter({ hasText: /^pension insurance/i });
    await keys.tabTo(pension.locator("summary"), "the pension insurance group");
    await keys.press("Space", "open the pension insurance group");
    const callAbout = pension.getByRole("button", { name: /^call an agent about/i }).first();
    await callAbout.waitFor();
    const service = await callAbout.getAttribute("aria-label") ?? (await callAbout.textContent()).trim();
    await keys.tabTo(callAbout, `"${service}" in the counter area`);
    await keys.press("Enter", `call about "${service}"`);
    // The hall explains why it asks for the microphone, with a button to go on.
    const waiting = page.locator('[role="status"][data-state="queued"], [role="status"][data-state="connected"]');
    const goOn = page.getByRole("button", { name: /^(continue|allow|go on)/i }).locator("visible=true");
    await waiting.or(goOn).first().waitFor({ timeout: 15_000 });
    if (await goOn.count()) {
      await keys.tabTo(goOn.first(), "the button that goes on to the microphone");
      await keys.press("Enter", "allow the microphone");
    }
    t.diagnostic(`called about ${service}`);
    await page.locator('[role="status"][data-state="queued"], [role="status"][data-state="connected"]').waitFor({ timeout: 15_000 });
    await settle(page);
    await keys.checkpoint("once queued");

    // The agent answers (mouse).
    await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 15_000 });
    await agent.page.click("#accept-button");

    // Connected, and what the citizen needs during the call is in reach of the keyboard.
    await page.locator('[role="status"][data-state="connected"]').waitFor({ timeout: 15_000 });
    await settle(page);
    await keys.checkpoint("once connected");
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
