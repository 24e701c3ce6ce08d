// Shared by the agent console and the staff console: what makes a console usable without looking
// at it and without a mouse — the ringer (a WebAudio-synthesised ring while an offer rings), desktop
// notifications while the tab is hidden, keyboard shortcuts, and live-region announcements.
import { t, testHandle } from "./common.js";

// --- announcements -------------------------------------------------------------------------------

/** Puts `text` into a live region so that it is read even when it equals the previous text:
 * cleared first, filled on the next frame. */
export function announce(region, text) {
  region.textContent = "";
  if (!text) return;
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

// --- keyboard shortcuts --------------------------------------------------------------------------

/**
 * Alt+<letter> shortcuts for buttons. Each of `shortcuts` is `{ code, button }` (`code` as in
 * `KeyboardEvent.code`, e.g. `"KeyA"`): Alt plus that key clicks the button when it is shown and
 * enabled. The modifier makes them safe while typing in a field; Ctrl+Alt (AltGr, which types
 * characters on many keyboards) and Meta never trigger them. Sets `aria-keyshortcuts` and the
 * `<kbd>` hint inside each button (`.shortcut`).
 */
export function bindShortcuts(shortcuts) {
  for (const { code, button } of shortcuts) {
    const label = `Alt+${code.replace(/^Key/, "")}`;
    button.setAttribute("aria-keyshortcuts", label);
    let hint = button.querySelector("kbd.shortcut");
    if (!hint) {
      hint = document.createElement("kbd");
      hint.className = "shortcut";
      hint.setAttribute("aria-hidden", "true");
      button.append(" ", hint);
    }
    hint.textContent = label;
  }
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.repeat) return;
    const shortcut = shortcuts.find((s) => s.code === event.code);
    if (!shortcut) return;
    event.preventDefault();
    const { button } = shortcut;
    if (button.disabled || !button.isConnected || button.closest("[hidden]")) return;
    button.click();
  });
}

// --- the ringer ----------------------------------------------------------------------------------

const RINGER_KEY = "voicedesk.ringer_muted";
/** A double ring every 3 s (0.4 s on, 0.2 s off, 0.4 s on), two mixed tones, quietly. */
const RING = { tones: [440, 480], peak: 0.12, periodS: 3, bursts: [[0, 0.4], [0.6, 1.0]] };

/**
 * The sound of an offer ringing. `start()`/`stop()` follow the offer; `setMuted(true)` silences
 * it (remembered in localStorage). `unlock()`, from a user gesture, lets the browser play sound
 * later without one. `testHandle.ringer` shows `{ wanted, playing, muted }` to the tests.
 */
export class Ringer {
  constructor() {
    this.ctx = null;
    this.nodes = null;
    this.timer = null;
    this.wanted = false;
    this.muted = false;
    try {
      this.muted = localStorage.getItem(RINGER_KEY) === "1";
    } catch {
      // Storage may be disabled: the ringer starts on.
    }
    this.expose();
  }

  /** Creates or resumes the audio context (call from a click or key press). */
  unlock() {
    const Context = window.AudioContext ?? window.webkitAudioContext;
    if (!Context) return null;
    try {
      this.ctx ??= new Context();
    } catch {
      return null;
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  get playing() {
    return Boolean(this.nodes);
  }

  start() {
    this.wanted = true;
    this.update();
  }

  stop() {
    this.wanted = false;
    this.update();
  }

  setMuted(muted) {
    this.muted = muted;
    try {
      localStorage.setItem(RINGER_KEY, muted ? "1" : "0");
    } catch {
      // Not remembered across reloads.
    }
    this.update();
  }

  update() {
    const play = this.wanted && !this.muted;
    if (play && !this.nodes) this.play();
    if (!play && this.nodes) this.silence();
    this.expose();
  }

  play() {
    const ctx = this.unlock();
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const oscillators = RING.tones.map((frequency) => {
      const osc = ctx.createOscillator();
      osc.type = "sine";
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start();
      return osc;
    });
    this.nodes = { gain, oscillators };
    // The cadence is scheduled one period at a time, a little ahead.
    let next = ctx.currentTime + 0.05;
    const schedule = () => {
      if (!this.nodes) return;
      while (next < ctx.currentTime + RING.periodS * 2) {
        for (const [on, off] of RING.bursts) {
          gain.gain.setValueAtTime(0, next + on);
          gain.gain.linearRampToValueAtTime(RING.peak, next + on + 0.02);
          gain.gain.setValueAtTime(RING.peak, next + off - 0.02);
          gain.gain.linearRampToValueAtTime(0, next + off);
        }
        next += RING.periodS;
      }
    };
    schedule();
    this.timer = setInterval(schedule, RING.periodS * 1000);
  }

  silence() {
    clearInterval(this.timer);
    this.timer = null;
    const { gain, oscillators } = this.nodes;
    this.nodes = null;
    for (const osc of oscillators) {
      try {
        osc.stop();
      } catch {
        // Already stopped.
      }
      osc.disconnect();
    }
    gain.gain.cancelScheduledValues(0);
    gain.disconnect();
  }

  expose() {
    testHandle.ringer = { wanted: this.wanted, playing: this.playing, muted: this.muted };
  }
}

// --- desktop notifications -----------------------------------------------------------------------

/**
 * Desktop notifications while the tab is hidden. `button` asks for the permission (a click is
 * the user gesture browsers require); `stateElement` says whether they are on, blocked or not
 * supported. `show()` notifies only when the permission is granted and the page is hidden;
 * clicking the notification brings the tab forward and calls `onClick`.
 */
export class Notifier {
  constructor({ button, stateElement, onClick = () => {} }) {
    this.button = button;
    this.stateElement = stateElement;
    this.onClick = onClick;
    this.current = null;
    button.addEventListener("click", () => this.enable());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.close();
    });
  }

  get supported() {
    return typeof window.Notification === "function";
  }

  get permission() {
    return this.supported ? window.Notification.permission : "unsupported";
  }

  async enable() {
    if (!this.supported) return;
    try {
      await window.Notification.requestPermission();
    } catch {
      // An old browser's callback form, or refused: the state below says which.
    }
    this.render();
  }

  /** `{ title, body, tag }`; returns the notification or null. */
  show({ title, body, tag }) {
    if (this.permission !== "granted" || !document.hidden) return null;
    this.close();
    let notification;
    try {
      notification = new window.Notification(title, { body, tag, requireInteraction: true });
    } catch {
      return null;
    }
    notification.onclick = () => {
      window.focus();
      notification.close();
      this.onClick();
    };
    this.current = notification;
    return notification;
  }

  close() {
    this.current?.close();
    this.current = null;
  }

  render() {
    const permission = this.permission;
    this.button.hidden = permission !== "default";
    this.stateElement.dataset.state = permission;
    this.stateElement.textContent =
      permission === "default" ? "" : t(`notify.${permission === "granted" ? "on" : permission}`);
    this.stateElement.hidden = permission === "default";
  }
}
