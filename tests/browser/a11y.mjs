// Shared by screens.test.mjs and keyboard.test.mjs: axe-core in a page, horizontal overflow,
// screenshots for docs/screenshots/, and whether the focused element shows its focus.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { repoRoot } from "./harness.mjs";

/** The two widths every page is checked at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  360: { width: 360, height: 740 },
};

/** The axe-core rule sets run: WCAG 2.0/2.1 A and AA, and axe's best practices. */
export const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
/** Violations of these impacts fail a test; minor and moderate ones are only printed. */
export const FAILING_IMPACTS = new Set(["serious", "critical"]);

/** Where the screenshots go, and whether this run writes them (`VOICEDESK_SCREENSHOTS=1`). */
export const SCREENSHOT_DIR = join(repoRoot, "docs/screenshots");
export const SAVE_SCREENSHOTS = process.env.VOICEDESK_SCREENSHOTS === "1";

const require = createRequire(import.meta.url);
let axeSource;

/**
 * Runs axe-core in the page and returns its violations, each as
 * `{ id, impact, help, helpUrl, targets: [selector…] }`.
 *
 * The pages' Content-Security-Policy (`default-src 'self'`) refuses inline scripts, and
 * `page.addScriptTag({ path })` injects the file as an inline script; `page.evaluate` runs
 * through the DevTools protocol, which the CSP does not govern.
 */
export async function runAxe(page) {
  axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(`${axeSource}\n;void 0`);
  }
  return page.evaluate(async (tags) => {
    const results = await window.axe.run(document, {
      runOnly: { type: "tag", values: tags },
      resultTypes: ["violations"],
    });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map((n) => n.target.join(" ")),
      summaries: v.nodes.map((n) => (n.failureSummary || "").split("\n").slice(1).join(" ").trim()),
    }));
  }, AXE_TAGS);
}

/** One line per violation and one indented line per element: id, impact, help URL, targets. */
export function formatViolations(violations) {
  return violations
    .map((v) =>
      [
        `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
        ...v.targets.slice(0, 8).map((target, i) => `      ${target}${v.summaries[i] ? ` — ${v.summaries[i]}` : ""}`),
        ...(v.targets.length > 8 ? [`      … and ${v.targets.length - 8} more`] : []),
      ].join("\n"),
    )
    .join("\n");
}

/**
 * How far the page scrolls sideways: `{ scrollWidth, offenders }`, where `offenders` are the
 * outermost visible elements reaching past the right edge of the viewport (a short CSS path,
 * their right edge and width), to say what to fix.
 */
export function horizontalOverflow(page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const path = (el) => {
      const parts = [];
      for (let node = el; node && node.nodeType === 1 && parts.length < 4; node = node.parentElement) {
        if (node.id) {
          parts.unshift(`#${node.id}`);
          break;
        }
        const classes = [...node.classList].slice(0, 2).map((c) => `.${c}`).join("");
        parts.unshift(`${node.localName}${classes}`);
      }
      return parts.join(" > ");
    };
    const offenders = [];
    const walk = (el) => {
      for (const child of el.children) {
        const style = getComputedStyle(child);
        if (style.display === "none" || style.visibility === "hidden") continue;
        const rect = child.getBoundingClientRect();
        // A visually hidden element (1 px, clipped) cannot widen the page in a way anyone sees,
        // but it still widens the scroll area: it is reported like any other.
        if (rect.width > 0 && rect.right > width + 0.5) {
          offenders.push({ element: path(child), right: Math.round(rect.right), width: Math.round(rect.width) });
          continue; // its children overflow with it: the outermost one says enough
        }
        // Scroll containers keep what overflows inside them.
        if (/(auto|scroll|hidden|clip)/.test(style.overflowX)) continue;
        walk(child);
      }
    };
    walk(document.body);
    return { scrollWidth: document.scrollingElement.scrollWidth, viewport: width, offenders: offenders.slice(0, 10) };
  });
}

/** Resolves after `count` animation frames of the page: what its handlers scheduled for the
 * next frame (a focus move, a scroll) has happened by then. */
export function nextFrames(page, count = 2) {
  return page.evaluate(
    (count) =>
      new Promise((done) => {
        const step = (left) => (left === 0 ? done(true) : requestAnimationFrame(() => step(left - 1)));
        step(count);
      }),
    count,
  );
}

/**
 * Waits until the page is as it is shown: its fonts loaded, no requests in flight
 * (`networkidle`), every finite animation and transition finished, and the scroll position
 * still over two consecutive frames (a smooth scroll has ended) — so screenshots and the
 * contrast checks see the page as a person does. Waits on those events, never a fixed time.
 */
export async function settle(page) {
  await page.evaluate(() => document.fonts.ready.then(() => true));
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((animation) => Number.isFinite(animation.effect?.getComputedTiming().endTime))
        .map((animation) => animation.finished.catch(() => null)),
    ),
  );
  await page.evaluate(
    () =>
      new Promise((done) => {
        let last = `${scrollX},${scrollY}`;
        const check = () =>
          requestAnimationFrame(() =>
            requestAnimationFrame(() => {
              const now = `${scrollX},${scrollY}`;
              if (now === last) done(true);
              else {
                last = now;
                check();
              }
            }),
          );
        check();
      }),
  );
}

/** Saves `docs/screenshots/<name>.png` (full page) when this run writes screenshots. */
export async function screenshot(page, name) {
  if (!SAVE_SCREENSHOTS) return null;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: "disabled", caret: "hide" });
  return path;
}

/**
 * The focused element and how its focus shows: `{ tag, name, focusVisible, outline, boxShadow,
 * visible }`, `visible` being true when it matches `:focus-visible` and has a non-none outline
 * of some width or a box-shadow. `null` when nothing has the focus (the body).
 */
export function focusState(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const focusVisible = el.matches(":focus-visible");
    const outline = `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`;
    const hasOutline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const hasShadow = style.boxShadow && style.boxShadow !== "none";
    const labelledBy = (el.getAttribute("aria-labelledby") || "")
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent || "")
      .join(" ")
      .trim();
    const label =
      el.getAttribute("aria-label") ||
      labelledBy ||
      (el.labels && el.labels[0]?.textContent) ||
      el.textContent ||
      el.getAttribute("name") ||
      "";
    return {
      tag: el.localName,
      id: el.id || null,
      name: label.replace(/\s+/g, " ").trim().slice(0, 60),
      focusVisible,
      outline,
      boxShadow: style.boxShadow,
      visible: focusVisible && (hasOutline || Boolean(hasShadow)),
    };
  });
}
