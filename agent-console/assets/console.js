// Shared by the agent console and the staff console: signing in (the `vd_session` cookie set by
// POST /api/login) and the headset — the one media connection kept for the whole session.
import {
  closeAudioPeer,
  createAudioPeer,
  iceConfiguration,
  getMicrophone,
  offerWhenGathered,
  showError,
  t,
} from "./common.js";
import { PasswordChange } from "./password.js";

const $ = (id) => document.getElementById(id);

/**
 * The sign-in form and the page's signed-in frame. Both consoles use the same element ids:
 * `#login-section`, `#login-form`, `#login-username`, `#login-password`, `#login-submit`,
 * `#login-error`, `#console-section`, `#user-name`, `#logout-button`.
 *
 * - `allowed(role)`: whether an account of this role may use this console;
 * - `notAllowedKey`: the string shown when it may not;
 * - `onEnter(user)`: the console opens for `user` (open the signaling connection here);
 * - `onLeave()`: the console closes (logout, expired session): close everything.
 */
export class Login {
  constructor({ status, allowed, notAllowedKey, onEnter, onLeave }) {
    this.status = status;
    this.allowed = allowed;
    this.notAllowedKey = notAllowedKey;
    this.onEnter = onEnter;
    this.onLeave = onLeave;
    this.user = null;
    this.el = {
      section: $("login-section"),
      form: $("login-form"),
      username: $("login-username"),
      password: $("login-password"),
      submit: $("login-submit"),
      error: $("login-error"),
      console: $("console-section"),
      userName: $("user-name"),
      logout: $("logout-button"),
    };
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.el.logout.addEventListener("click", () => this.logOut());
    // Changing one's own password: forced after an administrator set it, else from the header.
    this.passwordChange = new PasswordChange({ onDone: (changed) => this.passwordDone(changed) });
    const button = document.createElement("button");
    button.type = "button";
    button.id = "password-button";
    button.className = "link";
    button.dataset.testid = "password-button";
    button.dataset.i18n = "button.password";
    button.textContent = t("button.password");
    button.hidden = true;
    button.addEventListener("click", () => {
      this.el.console.hidden = true;
      this.passwordChange.open({ forced: false });
    });
    this.el.logout.before(button);
    this.el.passwordButton = button;
    /** The user waiting to enter once the forced password change is done. */
    this.pendingUser = null;
  }

  /** After the password form: enter the console (forced change) or go back to it. */
  passwordDone(changed) {
    if (this.pendingUser) {
      const user = this.pendingUser;
      this.pendingUser = null;
      if (changed) this.enter(user);
      return;
    }
    this.el.console.hidden = false;
    if (changed) this.status.set("logged_in", "password.done");
  }

  /** An administrator set the password: the form replaces the console until it is changed. */
  forcePasswordChange(user) {
    const { el } = this;
    this.pendingUser = user;
    el.section.hidden = true;
    el.console.hidden = true;
    el.logout.hidden = false;
    el.userName.textContent = user.display_name || user.username;
    this.status.set("password", "password.forced");
    this.passwordChange.open({ forced: true });
  }

  /** Opens the console at once when the cookie still holds a session; else shows the form. */
  async restore() {
    try {
      const response = await fetch("/api/me", { credentials: "same-origin" });
      if (response.ok) {
        const { user, must_change_password } = await response.json();
        if (must_change_password) this.forcePasswordChange(user);
        else this.enter(user);
        return;
      }
    } catch {
      // Not reachable: the login form stays.
    }
    this.show();
  }

  async submit() {
    const { el } = this;
    showError(el.error, null);
    el.submit.disabled = true;
    try {
      const response = await fetch("/api/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: el.username.value.trim(), password: el.password.value }),
      });
      if (response.ok) {
        const { user, must_change_password } = await response.json();
        el.password.value = "";
        if (must_change_password && this.allowed(user.role)) this.forcePasswordChange(user);
        else this.enter(user);
      } else if (response.status === 401) {
        this.error(t("login.invalid"));
      } else if (response.status === 429) {
        const body = await response.json().catch(() => ({}));
        const seconds = Number(body.retry_after_secs) || 1;
        this.error(
          body.locked
            ? t("login.locked", { minutes: Math.ceil(seconds / 60) })
            : t("login.too_many", { seconds }),
        );
      } else if (response.status === 403) {
        this.error(t("login.disabled"));
      } else {
        this.error(t("login.failed", { status: response.status }));
      }
    } catch {
      this.error(t("login.unreachable"));
    } finally {
      el.submit.disabled = false;
    }
  }

  /** Shows `text` under the form and puts the cursor back in the password. */
  error(text) {
    this.el.error.textContent = text;
    this.el.error.hidden = false;
    this.el.password.focus();
    this.el.password.select();
  }

  /** The login form instead of the console. */
  show() {
    const { el } = this;
    el.section.hidden = false;
    el.console.hidden = true;
    el.logout.hidden = true;
    el.passwordButton.hidden = true;
    this.passwordChange.section.hidden = true;
    this.pendingUser = null;
    el.userName.textContent = "";
    this.status.set("login", "status.login_required");
  }

  enter(user) {
    if (!this.allowed(user.role)) {
      this.show();
      this.error(t(this.notAllowedKey));
      return;
    }
    const { el } = this;
    this.user = user;
    el.section.hidden = true;
    el.console.hidden = false;
    el.logout.hidden = false;
    el.passwordButton.hidden = false;
    const name = user.display_name || user.username;
    el.userName.textContent = name;
    this.status.set("logged_in", "status.logged_in", { name });
    this.onEnter(user);
  }

  /** Closes the console and shows the form with `key`'s text as the reason. */
  refuse(key) {
    this.user = null;
    this.onLeave();
    this.show();
    this.error(t(key));
  }

  async logOut() {
    this.user = null;
    this.onLeave();
    try {
      await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
    } catch {
      // The cookie is HttpOnly: if the server is gone, it expires on its own.
    }
    this.show();
    this.status.set("logged_out", "status.logged_out");
  }

  /** After a refused WebSocket handshake: back to the form if the session is gone (401) or is
   * not allowed here (403 on /ws); otherwise the server was unreachable and the retry goes on. */
  async check() {
    let response;
    try {
      response = await fetch("/api/me", { credentials: "same-origin" });
    } catch {
      return;
    }
    if (response.status === 401) {
      this.refuse("status.session_expired");
    } else if (response.ok) {
      const { user } = await response.json();
      if (!this.allowed(user.role)) this.refuse(this.notAllowedKey);
    }
  }
}

/**
 * The headset: one RTCPeerConnection with the fixed receive slots, opened after sign-in with
 * `media_connect` and kept until logout. Its state (`none`, `connecting`, `connected`, `failed`,
 * `closed`) is shown in `stateElement` (`data-state` + text). `onFailed(pc)`, when given, is
 * told when the browser sees the connection fail (ICE `failed`), to offer a new one.
 */
export class Headset {
  constructor({ audios, stateElement, errorElement, send, onFailed = null }) {
    this.audios = audios;
    this.stateElement = stateElement;
    this.errorElement = errorElement;
    this.send = send;
    this.onFailed = onFailed;
    this.pc = null;
    this.mic = null;
    this.state = "none";
  }

  async open() {
    this.close();
    this.setState("connecting");
    let mic;
    try {
      mic = await getMicrophone();
    } catch (error) {
      console.warn("voicedesk: microphone refused", error);
      this.setState("failed");
      showError(this.errorElement, { code: "microphone", message: t("status.mic_denied") });
      return;
    }
    this.mic = mic;
    const ice = await iceConfiguration();
    if (this.mic !== mic) return;
    const pc = createAudioPeer(mic, this.audios, ice);
    this.pc = pc;
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc && pc.connectionState === "failed") {
        this.setState("failed");
        this.onFailed?.(pc);
      }
    });
    try {
      const sdp = await offerWhenGathered(pc);
      if (this.pc === pc) this.send({ type: "media_connect", sdp });
    } catch (error) {
      this.setState("failed");
      showError(this.errorElement, { code: "webrtc", message: String(error) });
    }
  }

  /** Applies the relay's `media_answer`. */
  async answer(sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    try {
      await pc.setRemoteDescription({ type: "answer", sdp });
    } catch (error) {
      this.setState("failed");
      showError(this.errorElement, { code: "bad_sdp", message: String(error) });
    }
  }

  close() {
    closeAudioPeer(this.pc, this.mic, this.audios);
    this.pc = null;
    this.mic = null;
    this.setState("none");
  }

  setState(state) {
    this.state = state;
    this.render();
  }

  render() {
    this.stateElement.dataset.state = this.state;
    this.stateElement.textContent = t(`media.${this.state}`);
  }
}
