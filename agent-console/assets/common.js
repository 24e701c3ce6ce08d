// Shared by the hall and the agent console: the signaling client (protocol v1 over /ws), the
// audio peer connection with fixed receive slots, and the two-language strings.
//
// The message shapes are those of protocol/src/lib.rs (`ClientMessage` / `ServerMessage`).

/** The handle the browser tests read: `window.voicedesk.pc` is this page's current (or last)
 * RTCPeerConnection. Nothing else is global. */
export const testHandle = (window.voicedesk = { pc: null });

// ---------------------------------------------------------------------------------------------
// Strings

const LANG_KEY = "voicedesk.lang";
export const LANGS = ["zh-CN", "en"];

/** Every user-visible text, in Simplified Chinese and English. A value is a string or a function
 * of named parameters. */
const STRINGS = {
  "lang.switch": { "zh-CN": "English", en: "中文" },
  "hall.title": { "zh-CN": "社会保险网上服务大厅 · 语音咨询", en: "Social insurance online hall · Voice consultation" },
  "hall.service": { "zh-CN": "咨询业务", en: "Service" },
  "hall.notice": {
    "zh-CN": "提示:为保证服务质量,本次通话可能会被监听或录音。点击“呼叫”后浏览器将请求使用麦克风。",
    en: "Notice: this call may be monitored or recorded for quality purposes. After you press Call the browser asks to use your microphone.",
  },
  "service.pension_inquiry": { "zh-CN": "养老保险查询", en: "Pension inquiry" },
  "service.medical_insurance": { "zh-CN": "医疗保险", en: "Medical insurance" },
  "service.unemployment_insurance": { "zh-CN": "失业保险", en: "Unemployment insurance" },
  "service.work_injury_insurance": { "zh-CN": "工伤保险", en: "Work-injury insurance" },
  "service.maternity_insurance": { "zh-CN": "生育保险", en: "Maternity insurance" },
  "service.pension_transfer": { "zh-CN": "社保转移(跨地区养老保险转移)", en: "Cross-region pension transfer" },
  "button.call": { "zh-CN": "呼叫", en: "Call" },
  "button.hangup": { "zh-CN": "挂断", en: "Hang up" },
  "button.mute": { "zh-CN": "静音", en: "Mute" },
  "button.unmute": { "zh-CN": "取消静音", en: "Unmute" },
  "button.accept": { "zh-CN": "接听", en: "Accept" },
  "button.reject": { "zh-CN": "拒绝", en: "Reject" },
  "button.available": { "zh-CN": "空闲", en: "Available" },
  "button.away": { "zh-CN": "离开", en: "Away" },
  "button.login": { "zh-CN": "登录", en: "Log in" },
  "button.logout": { "zh-CN": "退出登录", en: "Log out" },
  "slot.0.citizen": { "zh-CN": "客服语音", en: "Agent voice" },
  "slot.1.citizen": { "zh-CN": "第三方语音", en: "Third party voice" },
  "slot.0.agent": { "zh-CN": "群众语音", en: "Citizen voice" },
  "slot.1.agent": { "zh-CN": "坐席辅导语音", en: "Coach voice" },

  "status.idle": { "zh-CN": "请选择业务后点击“呼叫”。", en: "Choose a service and press Call." },
  "status.connecting_ws": { "zh-CN": "正在连接服务器…", en: "Connecting to the server…" },
  "status.reconnecting": {
    "zh-CN": ({ seconds }) => `与服务器的连接已断开,${seconds} 秒后重试…`,
    en: ({ seconds }) => `Connection to the server lost; retrying in ${seconds} s…`,
  },
  "status.requesting_mic": { "zh-CN": "正在请求使用麦克风…", en: "Asking for the microphone…" },
  "status.setting_up": { "zh-CN": "正在建立语音连接…", en: "Setting up the voice connection…" },
  "status.queued": { "zh-CN": "已进入排队,请稍候。", en: "You are in the queue, please wait." },
  "status.queue_position": {
    "zh-CN": ({ position }) => `排队中:您前面还有 ${position - 1} 位(第 ${position} 位)。`,
    en: ({ position }) => `In the queue: position ${position}.`,
  },
  "status.connected": {
    "zh-CN": ({ peer }) => `已接通:${peer}`,
    en: ({ peer }) => `Connected with ${peer}`,
  },
  "status.hanging_up": { "zh-CN": "正在挂断…", en: "Hanging up…" },
  "status.ended": {
    "zh-CN": ({ reason }) => `通话已结束(${tOr("end.", reason)})。`,
    en: ({ reason }) => `Call ended (${tOr("end.", reason)}).`,
  },
  "status.mic_denied": {
    "zh-CN": "无法使用麦克风,请在浏览器中允许麦克风后重试。",
    en: "The microphone is not available. Allow it in the browser and try again.",
  },
  "status.media_failed": { "zh-CN": "语音连接失败。", en: "The voice connection failed." },
  "status.offline": { "zh-CN": "未连接到服务器。", en: "Not connected to the server." },
  "status.login_required": { "zh-CN": "请登录。", en: "Please log in." },
  "status.logged_in": {
    "zh-CN": ({ name }) => `已登录:${name}`,
    en: ({ name }) => `Logged in as ${name}`,
  },
  "status.logged_out": { "zh-CN": "已退出登录。", en: "Logged out." },
  "status.session_expired": {
    "zh-CN": "登录已过期,请重新登录。",
    en: "Your session has expired; please log in again.",
  },
  "status.not_agent": {
    "zh-CN": "此账号不是坐席账号,不能使用坐席工作台。",
    en: "This account is not an agent account and cannot use the agent console.",
  },
  "status.offered": {
    "zh-CN": ({ service }) => `来电:${serviceName(service)}`,
    en: ({ service }) => `Incoming call: ${serviceName(service)}`,
  },
  "status.withdrawn": {
    "zh-CN": ({ reason }) => `来电已撤回(${tOr("withdraw.", reason)})。`,
    en: ({ reason }) => `The call offer was withdrawn (${tOr("withdraw.", reason)}).`,
  },
  "status.error": {
    "zh-CN": ({ message, code }) => `出错了:${message}(${code})`,
    en: ({ message, code }) => `Error: ${message} (${code})`,
  },

  "login.title": { "zh-CN": "坐席登录", en: "Agent login" },
  "login.username": { "zh-CN": "用户名", en: "Username" },
  "login.password": { "zh-CN": "密码", en: "Password" },
  "login.invalid": { "zh-CN": "用户名或密码错误。", en: "Wrong username or password." },
  "login.failed": {
    "zh-CN": ({ status }) => `登录失败(HTTP ${status}),请稍后重试。`,
    en: ({ status }) => `Login failed (HTTP ${status}); try again later.`,
  },
  "login.unreachable": { "zh-CN": "无法连接服务器。", en: "The server cannot be reached." },

  "agent.title": { "zh-CN": "坐席工作台", en: "Agent console" },
  "agent.state": { "zh-CN": "坐席状态", en: "Agent state" },
  "agent.media": { "zh-CN": "耳麦连接", en: "Headset connection" },
  "agent.away_reason": { "zh-CN": "离开原因", en: "Away reason" },
  "agent.incoming": { "zh-CN": "来电", en: "Incoming call" },
  "agent.current_call": { "zh-CN": "当前通话", en: "Current call" },
  "agent.service": { "zh-CN": "业务", en: "Service" },
  "agent.waited": { "zh-CN": "已等待", en: "Waited" },
  "agent.ring_left": { "zh-CN": "振铃剩余", en: "Rings for" },
  "agent.peer": { "zh-CN": "通话对象", en: "Talking with" },
  "agent.duration": { "zh-CN": "通话时长", en: "Duration" },
  "agent.no_service": { "zh-CN": "未指定", en: "not given" },
  "reason.none": { "zh-CN": "(不填)", en: "(none)" },
  "reason.break": { "zh-CN": "休息", en: "Break" },
  "reason.meeting": { "zh-CN": "会议", en: "Meeting" },
  "reason.training": { "zh-CN": "培训", en: "Training" },

  "activity.available": { "zh-CN": "空闲", en: "Available" },
  "activity.away": { "zh-CN": "离开", en: "Away" },
  "activity.ringing": { "zh-CN": "振铃中", en: "Ringing" },
  "activity.on_call": { "zh-CN": "通话中", en: "On a call" },
  "activity.unknown": { "zh-CN": "未知", en: "Unknown" },
  "media.none": { "zh-CN": "未连接", en: "Not connected" },
  "media.connecting": { "zh-CN": "连接中…", en: "Connecting…" },
  "media.connected": { "zh-CN": "已连接", en: "Connected" },
  "media.failed": { "zh-CN": "连接失败", en: "Failed" },
  "media.closed": { "zh-CN": "已关闭", en: "Closed" },

  "end.citizen_hang_up": { "zh-CN": "群众挂断", en: "the citizen hung up" },
  "end.agent_hang_up": { "zh-CN": "客服挂断", en: "the agent hung up" },
  "end.abandoned": { "zh-CN": "已放弃排队", en: "left the queue" },
  "end.media_failed": { "zh-CN": "语音连接失败", en: "the voice connection failed" },
  "end.citizen_disconnected": { "zh-CN": "群众已断开", en: "the citizen disconnected" },
  "end.agent_disconnected": { "zh-CN": "客服已断开", en: "the agent disconnected" },
  "end.no_agents": { "zh-CN": "暂无客服在线", en: "no agent is available" },
  "end.server_shutdown": { "zh-CN": "服务器维护", en: "the server is shutting down" },
  "withdraw.rejected": { "zh-CN": "已拒绝", en: "rejected" },
  "withdraw.ring_timeout": { "zh-CN": "振铃超时", en: "not answered in time" },
  "withdraw.citizen_left": { "zh-CN": "群众已挂断", en: "the citizen hung up" },
};

let lang = initialLang();
const langListeners = [];

function initialLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(LANG_KEY);
  } catch {
    // Storage may be disabled; fall back to the browser's language.
  }
  if (LANGS.includes(stored)) return stored;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The text of `key` in the current language; unknown keys show as themselves. */
export function t(key, params = {}) {
  const entry = STRINGS[key];
  if (!entry) return key;
  const value = entry[lang];
  return typeof value === "function" ? value(params) : value;
}

/** `t(prefix + value)` when such a string exists, else the raw value (for server-sent names). */
function tOr(prefix, value) {
  return STRINGS[prefix + value] ? t(prefix + value) : value;
}

/** A call's service as shown to the agent: the hall's free text, as sent. */
export function serviceName(service) {
  return service || t("agent.no_service");
}

/** Fills every `[data-i18n]` element and sets `<html lang>`; then re-renders dynamic texts. */
export function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  // The switch names the other language, in that language.
  const other = lang === "zh-CN" ? "en" : "zh-CN";
  document.getElementById("lang-switch")?.setAttribute("lang", other);
  for (const listener of langListeners) listener();
}

/** Wires the `#lang-switch` button and applies the current language once. */
export function setupLang(onChange) {
  if (onChange) langListeners.push(onChange);
  const button = document.getElementById("lang-switch");
  button?.addEventListener("click", () => {
    lang = lang === "zh-CN" ? "en" : "zh-CN";
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      // Not remembered across reloads; still switched.
    }
    applyLang();
  });
  applyLang();
}

/** A live region whose text is re-rendered on a language switch. `data-state` carries the
 * machine-readable state (for styling and tests). */
export class StatusLine {
  constructor(element) {
    this.element = element;
    this.key = null;
    this.params = {};
    langListeners.push(() => this.render());
  }

  set(state, key, params = {}) {
    this.element.dataset.state = state;
    this.key = key;
    this.params = params;
    this.render();
  }

  render() {
    if (this.key) this.element.textContent = t(this.key, this.params);
  }
}

/** Shows a server `error` message (or any failure) in a `role=alert` element; `null` hides it. */
export function showError(element, error) {
  if (!error) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.code;
    return;
  }
  element.dataset.code = error.code || "client";
  element.textContent = t("status.error", {
    message: error.message || String(error),
    code: error.code || "client",
  });
  element.hidden = false;
}

/** `m:ss` for a duration in milliseconds. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return `${minutes}:${seconds}`;
}

// ---------------------------------------------------------------------------------------------
// Signaling

/** The `/ws` URL on this page's origin; `query` is `""` (citizen) or `"?role=agent"`. */
function signalingUrl(query) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws${query}`;
}

/**
 * One WebSocket to `/ws` (`query` `"?role=agent"` for the agent console, which the server
 * authenticates by the session cookie), reopened with a growing delay after it drops (until
 * `close()`). Handlers: `onMessage(msg)` for every server message, `onOpen()`,
 * `onDrop(retryInSeconds, welcomed)` — `welcomed` is false when the connection never got its
 * `welcome`, as when the server refuses the handshake (HTTP 401/403, which a browser cannot
 * see).
 * Messages are handled one at a time in arrival order: an async `onMessage` (one that awaits
 * `setRemoteDescription`, say) finishes before the next message is looked at.
 */
export class Signaling {
  constructor({ query = "", onMessage, onOpen = () => {}, onDrop = () => {} }) {
    this.query = query;
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.onDrop = onDrop;
    this.socket = null;
    this.closed = false;
    this.retryMs = 1000;
    this.retryTimer = null;
    /** The end of the chain of message handlers, so they run in order. */
    this.handled = Promise.resolve();
  }

  open() {
    this.closed = false;
    const socket = new WebSocket(signalingUrl(this.query));
    this.socket = socket;
    let welcomed = false;
    socket.addEventListener("open", () => {
      this.retryMs = 1000;
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("voicedesk: ignoring a frame that is not JSON");
        return;
      }
      if (msg.type === "welcome") welcomed = true;
      this.handled = this.handled
        .then(() => this.onMessage(msg))
        // A bug in a handler surfaces as an uncaught error; the next message is still handled.
        .catch((error) => reportError(error));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 30000);
      this.onDrop(Math.round(delay / 1000), welcomed);
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  /** Sends one client message; returns false when the socket is not open. */
  send(msg) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** Closes for good (no reconnect). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Media

/** Receive slots per leg (protocol `Role::receive_slots`): the first transceiver also sends. */
export const RECEIVE_SLOTS = 2;

/** Asks for the microphone. Rejects with the browser's error (NotAllowedError, …). */
export function getMicrophone() {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
}

/**
 * An audio peer connection with `RECEIVE_SLOTS` transceivers: slot 0 is `sendrecv` and carries
 * the microphone, the others are `recvonly`. Every remote track plays through
 * `audioElements[slot]`. The server is ICE-lite and does not trickle, so there are no ICE
 * servers. The connection becomes `window.voicedesk.pc`.
 */
export function createAudioPeer(micStream, audioElements) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const [micTrack] = micStream.getAudioTracks();
  pc.addTransceiver(micTrack, { direction: "sendrecv", streams: [micStream] });
  for (let slot = 1; slot < RECEIVE_SLOTS; slot++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  pc.addEventListener("track", (event) => {
    const slot = pc.getTransceivers().indexOf(event.transceiver);
    const element = audioElements[slot];
    if (!element) return;
    element.srcObject = new MediaStream([event.track]);
    element.play().catch(() => {
      // Autoplay may be refused until the user interacts; the element keeps its stream and
      // its controls let the user start it.
    });
  });
  testHandle.pc = pc;
  return pc;
}

/**
 * Creates the offer, sets it locally and waits until ICE gathering completes (the server does
 * not take trickled candidates), at most `timeoutMs`. Returns the SDP to send.
 */
export async function offerWhenGathered(pc, timeoutMs = 5000) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === "complete") done();
      }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  return pc.localDescription.sdp;
}

/** Closes a peer connection and stops the microphone. Safe to call with nulls. */
export function closeAudioPeer(pc, micStream, audioElements = []) {
  for (const track of micStream?.getTracks() ?? []) track.stop();
  if (pc && pc.signalingState !== "closed") pc.close();
  for (const element of audioElements) element.srcObject = null;
}
