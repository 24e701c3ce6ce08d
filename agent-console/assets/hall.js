// The citizen's page: pick a service, read the monitoring notice, call, hear the hold tune with
// the live position and estimated wait, talk, mute, hang up; told when a supervisor joins the
// call (barge) or takes it over, when the call is transferred, when the queue is closed. A
// reload or a dropped connection while queued rejoins the parked call and keeps the place.
// A citizen is never left with nothing: "Other ways to get help" (a text or voice message, the
// self-service assistant) is always on the page and is brought forward with the reason when the
// call is turned away or has waited too long; every answered call ends with a rating.
// The hall around the call (the scene, the menu, the area panels) is hall-areas.js; the call's
// audio (the microphone explained first, devices, level, timer, network quality) is
// audio-controls.js; the live text chat, which excludes a call while it lasts, is hall-chat.js.
import {
  MESSAGE_MAX,
  Signaling,
  StatusLine,
  chosenLevel,
  describeError,
  fillRatingLevels,
  formatDate,
  closeAudioPeer,
  createAudioPeer,
  iceConfiguration,
  formatDateTime,
  formatDuration,
  formatHours,
  getCatalogue,
  hasKey,
  loadCatalogue,
  localName,
  offerWhenGathered,
  renderText,
  serviceName,
  setupLang,
  showError,
  showNote,
  t,
  tOr,
} from "./common.js";
import {
  CallTimer,
  DeviceChooser,
  LevelMeter,
  QualityMonitor,
  explainMicrophone,
  openMicrophone,
  showMicProblem,
  switchMicrophone,
} from "./audio-controls.js";
import { setupHall } from "./hall-areas.js";
import { setupChat } from "./hall-chat.js";

const TOKEN_KEY = "voicedesk.citizen_token";

const $ = (id) => document.getElementById(id);
const form = $("call-form");
const serviceSelect = $("service-select");
const callButton = $("call-button");
const muteButton = $("mute-button");
const hangupButton = $("hangup-button");
const chatButton = $("chat-button");
const errorBox = $("error-message");
const hoursLine = $("service-hours");
const waitLimit = $("wait-limit");
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));
const micDialog = $("mic-explain");
const micProblemBox = $("mic-problem");
const voiceMicProblemBox = $("voice-mic-problem");
const levelMeter = new LevelMeter($("mic-level"), $("mic-level-fill"), $("mic-level-row"));
const callTimer = new CallTimer($("call-timer"));
const quality = new QualityMonitor($("call-quality"), $("call-quality-text"));
const other = {
  section: $("other-ways"),
  heading: $("other-ways-heading"),
  reason: $("other-ways-reason"),
  button: $("other-ways-button"),
};
const msgEl = {
  form: $("message-form"),
  service: $("message-service"),
  name: $("message-name"),
  phone: $("message-phone"),
  body: $("message-body"),
  counter: $("message-counter"),
  submit: $("message-submit"),
  status: new StatusLine($("message-status")),
  error: $("message-error"),
  result: $("message-result"),
  ticket: $("result-ticket"),
  code: $("result-code"),
  due: $("result-due"),
  link: $("result-link"),
  another: $("message-another"),
  voiceStart: $("voice-start"),
  voiceBox: $("voice-recording"),
  voiceTimer: $("voice-timer"),
  voiceStop: $("voice-stop"),
  voiceCancel: $("voice-cancel"),
};
const assistant = { log: $("assistant-log"), form: $("assistant-form"), input: $("assistant-input"), ask: $("assistant-ask") };
const rating = {
  form: $("rating-form"),
  heading: $("rating-heading"),
  levels: $("rating-levels"),
  comment: $("rating-comment"),
  submit: $("rating-submit"),
  error: $("rating-error"),
  thanks: $("rating-thanks"),
};
/** The reason the panel was last brought forward (`other.why.*`) and its parameters. */
const otherReason = new StatusLine(other.reason);
// `data-position` (the queue position) belongs to the `queued` state only: any other state, or
// a new queue after a transfer, drops it until the next `queue_position`.
const setStatus = status.set.bind(status);
status.set = (state, key, params = {}) => {
  delete status.element.dataset.position;
  setStatus(state, key, params);
};

/**
 * The one call this page can have. `phase` is `idle` (no call), `starting` (microphone and
 * offer, no call id yet), `queued`, `connected` or `ending` (hang-up sent, waiting for
 * `call_ended`).
 */
const call = {
  phase: "idle",
  id: null,
  pc: null,
  mic: null,
  muted: false,
  /** The supervisor announcement last made for this call (a string key), or null. */
  supportAnnounced: null,
  /** Set while rejoining a call after a reload or a lost connection: the `rejoin_call` id. */
  rejoin: null,
  /** Set while taking back an answered call: the server's `active_call` (peer, answer time). */
  active: null,
  /** Whether an agent answered this call (it is then rated when it ends). */
  answered: false,
  /** The answering agent's name and the answer time, kept to take the call back. */
  peerName: null,
  answeredAtMs: null,
};

/**
 * The text message being sent: `request` is the `leave_message` last sent, kept (with its
 * `client_id`) until `message_saved` so a retry after a dropped connection is the same message;
 * `inFlight` while no answer came.
 */
/** The service of a parked call being rejoined, to select once the list is loaded. */
let parkedService = null;

const textMessage = { request: null, inFlight: false };

/**
 * The voice message: `phase` `idle`, `starting` (microphone and offer, or the request sent),
 * `recording`, `finishing` (`finish_voice_message` sent). `pc`/`mic` only when recorded over a
 * new connection (no queued call); `clientId` kept until `message_saved`.
 */
const voice = { phase: "idle", pc: null, mic: null, startedAt: 0, maxMs: 0, timer: null, clientId: null };

/** The call waiting for its rating, or null. */
let ratingCallId = null;

/** Set once `loadCatalogue` has finished, whether or not it got the catalogue. */
let catalogueTried = false;

/** A token from a `welcome` we hold back while a `resume` of the stored one is pending. */
let freshToken = null;

const signaling = new Signaling({ onMessage, onDrop });

/** The element that last had the focus (the body does not count), for `keepFocus`. */
let lastFocused = null;
document.addEventListener("focusin", (event) => {
  if (event.target instanceof HTMLElement && event.target !== document.body) lastFocused = event.target;
});

/** The last place read out in the status line, and when (see `queue_position`). */
const lastPositionRead = { position: null, noAgent: false, at: 0 };
const POSITION_REREAD_MS = 30_000;

const chat = setupChat({
  signaling,
  onChange: renderButtons,
  onTurnedAway: (reason, typed) => {
    // What the citizen typed for the agent is not lost: it is the message's text.
    if (typed) {
      const before = msgEl.body.value.trim();
      msgEl.body.value = before ? `${before}\n\n${typed}` : typed;
      renderCounter();
    }
    bringForward(reason === "closed" ? "closed_unknown" : reason, {}, msgEl.body);
  },
  onAnswered: (chatId) => showRating(chatId, "chat"),
  onUpgrade: (chatId) => startCall(null, null, chatId),
});
const hall = setupHall({
  onCallService: callAbout,
  onChatService: chatAbout,
  onChange: () => {
    syncAreaCallButtons();
    keepFocus();
    revealCall();
  },
  onAsk: askAbout,
  onLeaveMessage: () => bringForward(call.phase === "queued" ? "queued" : null, {}, msgEl.body),
});
const devices = new DeviceChooser({
  micSelect: $("mic-select"),
  speakerSelect: $("speaker-select"),
  speakerField: $("speaker-field"),
  audios,
  onMicChange: changeMicrophone,
});

fillRatingLevels(rating.levels, "rating-level");
setupLang(() => {
  hall.render();
  devices.refresh();
  quality.render();
  callTimer.render();
  renderServices();
  renderButtons();
  renderCounter();
  renderVoiceTimer();
});
status.set("idle", "status.idle");
renderButtons();
loadCatalogue().then(() => {
  catalogueTried = true;
  hall.render();
  renderServices();
  renderButtons();
});
serviceSelect.addEventListener("change", () => {
  renderHours();
  // The message is about the service the citizen chose for the call.
  if (serviceSelect.value) msgEl.service.value = serviceSelect.value;
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  startCall();
});
hangupButton.addEventListener("click", hangUp);
chatButton.addEventListener("click", () => chatAbout(serviceSelect.value || null));
other.button.addEventListener("click", () =>
  bringForward(call.phase === "queued" ? "queued" : null, {}, msgEl.body),
);
msgEl.body.addEventListener("input", renderCounter);
msgEl.form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendTextMessage();
});
msgEl.another.addEventListener("click", () => {
  msgEl.result.hidden = true;
  msgEl.form.hidden = false;
  msgEl.body.focus();
});
msgEl.voiceStart.addEventListener("click", startVoice);
$("voice-mic-retry").addEventListener("click", startVoice);
$("voice-mic-write").addEventListener("click", () => {
  showMicProblem(voiceMicProblemBox, null);
  msgEl.body.focus();
});
msgEl.voiceStop.addEventListener("click", finishVoice);
msgEl.voiceCancel.addEventListener("click", cancelVoice);
assistant.form.addEventListener("submit", (event) => {
  event.preventDefault();
  ask();
});
assistant.log.addEventListener("click", onAssistantClick);
rating.levels.addEventListener("change", () => showError(rating.error, null));
rating.form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendRating();
});
renderCounter();
muteButton.addEventListener("click", toggleMute);
$("mic-retry").addEventListener("click", () => startCall());
signaling.open();

/** The service list, grouped by hall area, from the catalogue. */
function renderServices() {
  const { areas, services } = getCatalogue();
  if (!services.length) {
    // No catalogue (the server cannot be reached, or an old one): one choice, the general
    // consultation queue, which the server uses for a call without a service.
    if (catalogueTried) {
      const option = document.createElement("option");
      option.value = "";
      option.dataset.i18n = "hall.services_unavailable";
      option.textContent = t(option.dataset.i18n);
      serviceSelect.replaceChildren(option);
      msgEl.service.replaceChildren(option.cloneNode(true));
    }
    renderHours();
    return;
  }
  const previous = serviceSelect.value;
  const groups = areas
    .map((area) => {
      const group = document.createElement("optgroup");
      group.label = localName(area);
      for (const service of services.filter((s) => s.area === area.id)) {
        const option = document.createElement("option");
        option.value = service.id;
        option.textContent = localName(service);
        group.append(option);
      }
      return group;
    })
    .filter((group) => group.children.length);
  serviceSelect.replaceChildren(...groups);
  const wanted = parkedService ?? previous;
  if (services.some((s) => s.id === wanted)) serviceSelect.value = wanted;
  parkedService = null;
  const previousMessage = msgEl.service.value;
  msgEl.service.replaceChildren(...groups.map((group) => group.cloneNode(true)));
  msgEl.service.value = services.some((s) => s.id === previousMessage) ? previousMessage : serviceSelect.value;
  renderHours();
}

/** The chosen service's hours and whether it is open now. */
function renderHours() {
  const { services, skills } = getCatalogue();
  const service = services.find((s) => s.id === serviceSelect.value);
  const skill = service && skills.find((k) => k.id === service.skill_id);
  hoursLine.textContent = skill
    ? t(skill.open_now ? "hall.hours.open" : "hall.hours.closed", { hours: formatHours(skill.hours) })
    : "";
  // A call without a service waits in the general queue.
  renderRecordingNotice(skill || skills.find((k) => k.id === "general"));
}

/**
 * The notice before a call says what the queue does with it: recorded (`all`), recorded only
 * if the agent starts it, the citizen being told then (`on_demand`), or not recorded (`none`).
 * Without the catalogue the queue is unknown: the notice says the call may be recorded.
 */
function renderRecordingNotice(skill) {
  const policy = ["none", "all", "on_demand"].includes(skill?.recording) ? skill.recording : "unknown";
  for (const [el, prefix] of [
    [$("monitoring-notice"), "hall.notice"],
    [$("mic-explain-monitor"), "mic.explain_monitor"],
  ]) {
    el.dataset.i18n = `${prefix}.${policy}`;
    el.dataset.recording = policy;
    el.textContent = t(el.dataset.i18n);
  }
}

function renderButtons() {
  // The call's hint ("choose a service and press Call") is not for a chat: the chat has its own.
  status.element.hidden = call.phase === "idle" && chat.busy;
  callButton.disabled = call.phase !== "idle" || chat.busy;
  chatButton.disabled = call.phase !== "idle" || chat.busy;
  serviceSelect.disabled = call.phase !== "idle" || !getCatalogue().services.length;
  hangupButton.disabled = call.phase === "idle" || call.phase === "ending";
  // Mute works from the start of a call: a microphone that arrives later starts muted.
  muteButton.disabled = !["starting", "queued", "connected"].includes(call.phase);
  // A toggle button: the name stays "Mute", aria-pressed (and the pressed look) says whether it is on.
  muteButton.setAttribute("aria-pressed", String(call.muted));
  // The page's layout follows the call (on a phone the call card moves to the top while a call is on).
  const phaseChanged = document.body.dataset.callPhase !== call.phase;
  document.body.dataset.callPhase = call.phase;
  // A voice message needs the microphone: not during a call that is starting or talking.
  msgEl.voiceStart.disabled =
    voice.phase !== "idle" || !["idle", "queued"].includes(call.phase);
  msgEl.voiceBox.hidden = voice.phase !== "recording" && voice.phase !== "finishing";
  msgEl.voiceStop.disabled = voice.phase !== "recording";
  msgEl.voiceCancel.disabled = voice.phase !== "recording";
  msgEl.submit.disabled = textMessage.inFlight;
  for (const button of assistant.log.querySelectorAll("button[data-action=talk], button[data-action=chat]")) {
    button.disabled = call.phase !== "idle" || chat.busy;
  }
  syncAreaCallButtons();
  keepFocus();
  if (phaseChanged) revealCall();
}

/** The areas' "Call an agent" and "Chat" buttons start one only when no call or chat is on. */
function syncAreaCallButtons() {
  const busy = call.phase !== "idle" || chat.busy;
  for (const button of document.querySelectorAll("button[data-call], button[data-chat]")) {
    button.disabled = busy;
    if (busy) button.title = t(chat.busy ? "area.chat_busy" : "area.call_busy");
    else button.removeAttribute("title");
  }
}

/**
 * The call's phase changed, or the hall moved to another area for it (the rest area while
 * queued, a shorter page): the status line, Mute and Hang up must be on screen, whatever was
 * scrolled into view before (a long service list in an area panel). On a narrow screen the call
 * card moved to the top of the page (hall.css). Once the layout has settled, the page scrolls
 * the card to the top when the status or the buttons are out of view; the focus does not move.
 */
function revealCall() {
  if (call.phase === "idle") return;
  requestAnimationFrame(() => {
    const inView = (element) => {
      if (!element.getClientRects().length) return true;
      const box = element.getBoundingClientRect();
      return box.top >= 0 && box.bottom <= window.innerHeight;
    };
    if (![status.element, hangupButton].every(inView)) {
      $("call-card").scrollIntoView({ block: "start" });
    }
  });
}

// --- The focus across the call's phases ---------------------------------------------------------

/** Whether the focus can stay on `element`: still in the page, enabled and shown. */
function canHoldFocus(element) {
  if (!element?.isConnected || element.disabled) return false;
  if (element.closest("[hidden], [inert]")) return false;
  return element.checkVisibility ? element.checkVisibility() : element.getClientRects().length > 0;
}

/**
 * A call phase changed (or the hall moved to another area): when the element that had the focus
 * is now disabled, hidden or gone, the focus goes to the call's controls — Mute, else Hang up,
 * else Call — or, with none of them usable, the status line. It is never left on the body.
 * Runs after the DOM changed, before the browser moves the focus to the body itself.
 */
function keepFocus() {
  const active = document.activeElement;
  const had = active && active !== document.body ? active : lastFocused;
  if (!had || canHoldFocus(had)) return;
  // Something else took the focus meanwhile (a dialog, a form the page brought forward).
  if (active && active !== document.body && active !== had) return;
  const target = [muteButton, hangupButton, callButton].find(canHoldFocus) ?? status.element;
  target.focus();
  lastFocused = target;
}

/**
 * Starts a call, or (with `rejoinId`) offers new media for a call the server kept: a parked
 * queued call (answered by `call_queued`) or, with `active`, an answered one (answered by
 * `call_rejoined`). Every offer uses a new RTCPeerConnection.
 */
/**
 * Places a call, takes a call back (`rejoinId`, `active` once answered), or turns the answered
 * chat `upgradeId` into a call with its agent (`upgrade_chat`, answered by `chat_upgraded`).
 */
async function startCall(rejoinId = null, active = null, upgradeId = null) {
  if (call.phase !== "idle" || voice.phase !== "idle" || (chat.busy && !upgradeId && !active)) return;
  showError(errorBox, null);
  hideRating();
  otherReason.element.hidden = true;
  other.section.dataset.reason = "";
  call.phase = "starting";
  call.rejoin = rejoinId;
  call.active = active;
  if (active) {
    call.id = rejoinId;
    call.answered = true;
  }
  renderButtons();
  showMicProblem(micProblemBox, null);
  // Why the microphone, and that the call may be monitored, before the browser asks (once per
  // tab: a rejoined call was agreed to before the reload).
  // (The Call button is disabled by now: the focus goes on to the call's controls.)
  const callControl = () => (muteButton.disabled ? hangupButton : muteButton);
  if (!rejoinId && !(await explainMicrophone(micDialog, "call", callControl))) {
    if (call.phase === "starting") {
      resetCall();
      status.set("idle", "status.idle");
    }
    return;
  }
  if (call.phase !== "starting") return;
  status.set(
    "requesting_mic",
    active ? "status.rejoining_call" : rejoinId ? "status.rejoining" : "status.requesting_mic",
  );
  let mic;
  try {
    mic = await openMicrophone();
  } catch (error) {
    console.warn("voicedesk: microphone refused", error);
    resetCall();
    status.set("idle", "status.mic_denied");
    showMicProblem(micProblemBox, error);
    micProblemBox.querySelector("h3").focus();
    return;
  }
  if (call.phase !== "starting") {
    // Hung up while the browser was asking.
    closeAudioPeer(null, mic);
    return;
  }
  call.mic = mic;
  for (const track of mic.getAudioTracks()) track.enabled = !call.muted;
  levelMeter.attach(mic);
  // The devices' names are readable once the microphone is allowed.
  devices.refresh();
  status.set("setting_up", "status.setting_up");
  const ice = await iceConfiguration(loadToken());
  if (call.phase !== "starting" || call.mic !== mic) return;
  const pc = createAudioPeer(mic, audios, ice);
  call.pc = pc;
  pc.addEventListener("connectionstatechange", () => {
    if (pc === call.pc && pc.connectionState === "failed") recoverMedia();
  });
  renderButtons();
  let sdp;
  try {
    sdp = await offerWhenGathered(pc);
  } catch (error) {
    resetCall();
    status.set("idle", "status.idle");
    showError(errorBox, { code: "webrtc", message: String(error) });
    return;
  }
  if (call.pc !== pc || call.phase !== "starting") return;
  const request = upgradeId
    ? { type: "upgrade_chat", chat_id: upgradeId, sdp }
    : call.rejoin
      ? { type: "rejoin_call", call_id: call.rejoin, sdp }
      : { type: "call", ...(serviceSelect.value ? { service: serviceSelect.value } : {}), sdp };
  if (!signaling.send(request)) {
    resetCall();
    status.set("idle", "status.idle");
    showError(errorBox, { code: "offline", message: t("status.offline") });
  }
}

function hangUp() {
  if (call.id && (call.phase === "queued" || call.phase === "connected")) {
    call.phase = "ending";
    signaling.send({ type: "hang_up", call_id: call.id });
    status.set("ending", "status.hanging_up");
    renderButtons();
  } else if (call.phase === "starting") {
    resetCall();
    status.set("idle", "status.idle");
  }
}

/** A service's "Call an agent" in an area panel: that service, then the usual Call. */
function callAbout(serviceId) {
  if (serviceId && getCatalogue().services.some((s) => s.id === serviceId) && call.phase === "idle") {
    serviceSelect.value = serviceId;
    msgEl.service.value = serviceId;
    renderHours();
  }
  startCall();
}

/** A service's "Chat with an agent" in an area panel: a live text chat about that service. */
function chatAbout(serviceId, transcript = "") {
  const known = serviceId && getCatalogue().services.some((s) => s.id === serviceId);
  if (known && call.phase === "idle") {
    serviceSelect.value = serviceId;
    msgEl.service.value = serviceId;
    renderHours();
  }
  if (call.phase === "idle") chat.start(known ? serviceId : serviceSelect.value || null, transcript);
}

/** "Ask the assistant" (about a service): the self-service area, the question box. */
function askAbout(serviceId) {
  hall.goTo("self_service");
  const service = serviceId && getCatalogue().services.find((s) => s.id === serviceId);
  if (service) assistant.input.value = t("area.ask_prefill", { service: serviceName(service.id) });
  assistant.input.focus({ preventScroll: true });
  assistant.input.scrollIntoView({ block: "center", behavior: "smooth" });
}

/** Another microphone chosen: during a call the connection sends the new one at once. */
async function changeMicrophone(deviceId) {
  if (!call.pc || !call.mic) return;
  const pc = call.pc;
  try {
    const stream = await switchMicrophone(pc, call.mic, deviceId, call.muted);
    if (call.pc !== pc) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    call.mic = stream;
    levelMeter.attach(stream);
  } catch (error) {
    console.warn("voicedesk: cannot switch the microphone", error);
    showNote(errorBox, "audio.switch_failed");
  }
}

/**
 * The server kept an answered call of this citizen while the page was away (a reload, a lost
 * connection): offer new media for it; `call_rejoined` makes it connected again.
 */
function resumeActiveCall(activeCall) {
  startCall(activeCall.call_id, activeCall);
}

/**
 * The voice connection of a live call broke while the signaling connection stayed up (the
 * browser's ICE failed, or the relay said `media_state` `failed`): the server keeps the call
 * and waits for a new offer, so this page makes one on a new connection. A call not yet offered
 * (`starting`) or already ending just shows the failure.
 */
function recoverMedia() {
  if (!call.id || !["queued", "connected"].includes(call.phase)) {
    if (call.phase !== "idle") status.set("media_failed", "status.media_failed");
    return;
  }
  const { id, phase, active, peerName, answeredAtMs } = call;
  resetCall();
  status.set("media_failed", "status.media_recovering");
  startCall(id, phase === "connected" ? { ...active, peer_name: peerName, answered_at_ms: answeredAtMs } : null);
}

function toggleMute() {
  if (muteButton.disabled) return;
  call.muted = !call.muted;
  for (const track of call.mic?.getAudioTracks() ?? []) track.enabled = !call.muted;
  renderButtons();
}

/** Back to idle: closes the connection and stops the microphone. `window.voicedesk.pc` keeps
 * the closed connection until the next call. */
function resetCall() {
  levelMeter.detach();
  callTimer.stop();
  quality.stop();
  hall.setWait("idle");
  lastPositionRead.position = null;
  closeAudioPeer(call.pc, call.mic, audios);
  Object.assign(call, {
    phase: "idle",
    id: null,
    pc: null,
    mic: null,
    muted: false,
    supportAnnounced: null,
    rejoin: null,
    active: null,
    answered: false,
    peerName: null,
    answeredAtMs: null,
  });
  waitLimit.hidden = true;
  renderButtons();
}

function endCall(reason, opensAtMs) {
  const { id, answered } = call;
  resetCall();
  if (reason === "closed" && opensAtMs) {
    status.set("ended", "status.closed", { when: formatDateTime(opensAtMs) });
  } else {
    // Said to the citizen: "you hung up", not "the citizen hung up".
    status.set("ended", "status.ended", {
      reason: () => (hasKey(`hall_end.${reason}`) ? t(`hall_end.${reason}`) : tOr("end.", reason)),
    });
  }
  if (reason === "closed") {
    if (opensAtMs) bringForward("closed", { when: formatDateTime(opensAtMs) });
    else bringForward("closed_unknown");
  } else if (reason === "queue_full" || reason === "no_agents") {
    bringForward(reason);
  }
  if (answered && id) showRating(id);
}

async function onMessage(msg) {
  if (msg.type === "chat_upgraded") {
    await onChatUpgraded(msg);
    return;
  }
  if (chat.handle(msg)) return;
  switch (msg.type) {
    case "welcome":
      onWelcome(msg);
      break;
    case "resumed":
      storeToken(msg.citizen_token);
      freshToken = null;
      chat.onResumed();
      if (msg.active_call && call.phase === "idle") {
        resumeActiveCall(msg.active_call);
      } else if (msg.parked_call && call.phase === "idle") {
        // Shown as soon as the list is there (the catalogue may still be loading).
        parkedService = msg.parked_call.service ?? null;
        renderServices();
        await startCall(msg.parked_call.call_id);
      }
      break;
    case "call_queued":
      await onCallQueued(msg);
      break;
    case "queue_position":
      if (msg.call_id === call.id && call.phase === "queued") {
        const minutes =
          msg.estimated_wait_ms != null ? Math.max(1, Math.round(msg.estimated_wait_ms / 60000)) : null;
        hall.setWait("queued", msg.position, minutes);
        const now = Date.now();
        const noAgent = msg.estimated_wait_ms == null;
        const reread =
          msg.position !== lastPositionRead.position ||
          noAgent !== lastPositionRead.noAgent ||
          now - lastPositionRead.at >= POSITION_REREAD_MS;
        if (reread) {
          lastPositionRead.position = msg.position;
          lastPositionRead.noAgent = noAgent;
          lastPositionRead.at = now;
          // Position 1 is said as "you are next", not "0 ahead of you" — but only when an agent
          // staffs the queue: without an estimate nobody does (all away), and the citizen is told
          // so and what else they can do, as a real queue would.
          const key = msg.position === 1 ? "status.queue_next" : "status.queue_position";
          if (noAgent) {
            status.set("queued", "status.queue_no_agent", { position: msg.position, ahead: msg.position - 1 });
          } else if (minutes != null) {
            status.set("queued", `${key}_eta`, { position: msg.position, ahead: msg.position - 1, minutes });
          } else {
            status.set("queued", key, { position: msg.position, ahead: msg.position - 1 });
          }
        }
        status.element.dataset.position = String(msg.position);
      }
      break;
    case "wait_limit_reached":
      if (msg.call_id === call.id) {
        waitLimit.hidden = false;
        bringForward("wait_limit", {}, null);
      }
      break;
    case "message_saved":
      onMessageSaved(msg);
      break;
    case "voice_recording":
      await onVoiceRecording(msg);
      break;
    case "voice_message_cancelled":
      endVoice();
      msgEl.status.set("cancelled", "voice.cancelled");
      break;
    case "answer":
      onAnswer(msg);
      break;
    case "rating_saved":
      if (msg.subject === ratingCallId) {
        ratingCallId = null;
        rating.form.hidden = true;
        rating.thanks.hidden = false;
      }
      break;
    case "call_transferred":
      if (msg.call_id === call.id) {
        call.phase = "queued";
        callTimer.stop();
        lastPositionRead.position = null;
        hall.setWait("queued");
        status.set("queued", "status.transferred", { service: serviceName(msg.service) });
        renderButtons();
      }
      break;
    case "call_connected":
      if (msg.call_id === call.id) {
        // An agent answered while a voice message was being recorded: the server dropped it.
        if (voice.phase !== "idle") endVoice();
        showConnected(msg.peer_name, Date.now());
      }
      break;
    case "call_rejoined":
      await onCallRejoined(msg);
      break;
    case "peer_reconnecting":
      if (msg.call_id === call.id && call.phase === "connected") {
        status.set("peer_reconnecting", "status.agent_reconnecting");
      }
      break;
    case "peer_reconnected":
      if (msg.call_id === call.id && call.phase === "connected") {
        status.set("connected", "status.connected", { peer: call.peerName });
      }
      break;
    case "call_ended":
      // A call turned away at once (closed, full, nobody signed in) ends before `call_queued`.
      if (msg.call_id === call.id || (call.phase === "starting" && !call.id)) {
        chat.detachCall(msg.call_id, msg.reason);
        endCall(msg.reason, msg.opens_at_ms);
      }
      break;
    case "support_changed":
      if (msg.call_id === call.id) onSupportChanged(msg.supporters);
      break;
    case "media_state":
      // The relay's word on this call's connection: a failure is recovered with a new offer.
      if (msg.state === "failed" && call.phase !== "idle") recoverMedia();
      break;
    case "error":
      onError(msg);
      break;
    case "pong":
      break;
    default:
      console.warn("voicedesk: unexpected message", msg.type);
  }
}

/**
 * The server tells the citizen only about staff the citizen can hear (barge, take over) — never
 * about monitoring or whispering. Announced once per change in the live status; an empty list
 * announces nothing.
 */
function onSupportChanged(supporters) {
  if (!supporters.length) {
    // The supervisor left: the line says so, and who the citizen is talking with again.
    if (call.supportAnnounced && call.phase === "connected") {
      status.set("connected", "hall.supervisor_left", { peer: call.peerName ?? "" });
    }
    call.supportAnnounced = null;
    return;
  }
  const key = supporters.some((s) => s.mode === "take_over")
    ? "hall.supervisor_took_over"
    : "hall.supervisor_joined";
  if (call.supportAnnounced === key) return;
  call.supportAnnounced = key;
  status.set(
    key === "hall.supervisor_took_over" ? "supervisor_took_over" : "supervisor_joined",
    key,
  );
}

function onWelcome(msg) {
  const stored = loadToken();
  if (stored && msg.citizen_token && stored !== msg.citizen_token) {
    freshToken = msg.citizen_token;
    signaling.send({ type: "resume", citizen_token: stored });
  } else if (msg.citizen_token) {
    storeToken(msg.citizen_token);
    // Nothing to resume under: a chat kept on this page cannot come back.
    chat.onResumeFailed();
  }
  if (call.phase === "idle" && status.element.dataset.state === "reconnecting") {
    status.set("idle", "status.idle");
  }
  // A text message whose answer was lost goes again with the same client id: the server
  // gives the same ticket and creates nothing new.
  if (textMessage.request && textMessage.inFlight) {
    signaling.send(textMessage.request);
    msgEl.status.set("sending", "message.sending");
  }
}

/** The call is connected with an agent: from an answer, or taken back after `call_rejoined`. */
function showConnected(peerName, answeredAtMs) {
  chat.attachCall(call.id, peerName);
  call.phase = "connected";
  call.answered = true;
  call.peerName = peerName;
  call.answeredAtMs = answeredAtMs;
  status.set("connected", "status.connected", { peer: peerName });
  callTimer.start(answeredAtMs);
  if (call.pc) quality.start(call.pc);
  hall.setWait("connected");
  renderButtons();
}

/** The answer to a new offer for an answered call: the call goes on where it was. */
async function onCallRejoined(msg) {
  const pc = call.pc;
  if (!pc || call.phase !== "starting" || !call.active || msg.call_id !== call.id) return;
  try {
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  } catch (error) {
    signaling.send({ type: "hang_up", call_id: msg.call_id });
    resetCall();
    status.set("idle", "status.idle");
    showError(errorBox, { code: "bad_sdp", message: String(error) });
    return;
  }
  if (call.pc !== pc || call.phase !== "starting") return;
  showConnected(call.active.peer_name, call.active.answered_at_ms);
}

/** The chat became a call: the relay's answer applied; `call_connected` follows. */
async function onChatUpgraded(msg) {
  const pc = call.pc;
  if (!pc || call.phase !== "starting") {
    signaling.send({ type: "hang_up", call_id: msg.chat_id });
    return;
  }
  call.id = msg.chat_id;
  try {
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  } catch (error) {
    signaling.send({ type: "hang_up", call_id: msg.chat_id });
    resetCall();
    status.set("idle", "status.idle");
    showError(errorBox, { code: "bad_sdp", message: String(error) });
    return;
  }
  chat.setVoice(true);
}

async function onCallQueued(msg) {
  const pc = call.pc;
  if (!pc || call.phase !== "starting") {
    // Not ours any more (hung up while the offer was on its way): end it on the server too.
    signaling.send({ type: "hang_up", call_id: msg.call_id });
    return;
  }
  call.id = msg.call_id;
  try {
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  } catch (error) {
    signaling.send({ type: "hang_up", call_id: msg.call_id });
    resetCall();
    status.set("idle", "status.idle");
    showError(errorBox, { code: "bad_sdp", message: String(error) });
    return;
  }
  if (call.pc !== pc || call.phase !== "starting") return;
  call.phase = "queued";
  status.set("queued", "status.queued");
  quality.start(pc);
  hall.setWait("queued");
  renderButtons();
}

function onError(msg) {
  if (msg.request_type === "resume") {
    // The stored identity is gone; keep the one this connection was given.
    if (freshToken) storeToken(freshToken);
    freshToken = null;
    chat.onResumeFailed();
    return;
  }
  if (chat.onError(msg)) return;
  if (["leave_message", "start_voice_message", "finish_voice_message", "cancel_voice_message"].includes(msg.request_type)) {
    onMessageError(msg);
    return;
  }
  if (msg.request_type === "ask") {
    addChat("bot", msg.code === "invalid_state" ? t("assistant.busy") : describeError(msg), "error");
    return;
  }
  if (msg.request_type === "rate") {
    rating.submit.disabled = false;
    showError(rating.error, msg);
    return;
  }
  showError(errorBox, msg);
  if (["call", "rejoin_call", "upgrade_chat"].includes(msg.request_type) && call.phase === "starting") {
    resetCall();
    status.set("idle", "status.idle");
  }
  if (msg.request_type === "upgrade_chat") chat.setVoice(false);
}

function onDrop(retrySeconds) {
  // The server keeps a queued call (parked) and an answered one for its grace period; after
  // `resume` this page offers new media for it (`parked_call` / `active_call`).
  if (call.phase !== "idle") resetCall();
  chat.onDrop();
  // The recording goes with the connection; nothing was kept.
  if (voice.phase !== "idle") endVoice();
  if (textMessage.inFlight) msgEl.status.set("retrying", "message.retry");
  status.set("reconnecting", "status.reconnecting", { seconds: retrySeconds });
}

function loadToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Without storage a reload starts a new anonymous session.
  }
}

// --- Other ways to get help ---------------------------------------------------------------------

/**
 * Shows the panel with the reason (`other.why.<reason>`, none for the citizen's own look),
 * scrolls it into view and moves the focus to `focus` (its heading by default; `null` leaves
 * the focus where it is, as when the citizen is still waiting).
 */
function bringForward(reason, params = {}, focus = other.heading) {
  other.section.dataset.reason = reason ?? "";
  if (reason) {
    otherReason.set(reason, `other.why.${reason}`, params);
    other.reason.hidden = false;
  } else {
    other.reason.hidden = true;
  }
  other.section.classList.add("forward");
  if (msgEl.result.hidden === false && reason) {
    // A new reason to write: offer a fresh form, the last ticket stays readable above it.
    msgEl.form.hidden = false;
  }
  if (focus) {
    focus.focus({ preventScroll: true });
  }
  other.section.scrollIntoView({ block: "start", behavior: "smooth" });
}

function renderCounter() {
  msgEl.counter.textContent = t("message.counter", { count: msgEl.body.value.length, max: MESSAGE_MAX });
}

/** Name and phone when given. */
function contact() {
  const name = msgEl.name.value.trim();
  const phone = msgEl.phone.value.trim();
  return { ...(name ? { name } : {}), ...(phone ? { phone } : {}) };
}

function messageService() {
  return msgEl.service.value || serviceSelect.value || null;
}

function sendTextMessage() {
  showError(msgEl.error, null);
  const body = msgEl.body.value.trim();
  if (!body) {
    showNote(msgEl.error, "message.empty");
    msgEl.body.focus();
    return;
  }
  const service = messageService();
  const content = {
    type: "leave_message",
    ...(service ? { service } : {}),
    ...contact(),
    body,
    // From a queued call: the call then ends as `message_left`.
    ...(call.phase === "queued" && call.id ? { call_id: call.id } : {}),
    // From a waiting chat, likewise: the chat ends `message_left`.
    ...(chat.queuedId ? { call_id: chat.queuedId } : {}),
  };
  // The same content as the last unanswered attempt is a retry: the same client id.
  const previous = textMessage.request;
  const same =
    previous && JSON.stringify({ ...previous, client_id: null }) === JSON.stringify({ ...content, client_id: null });
  const client_id = same ? previous.client_id : crypto.randomUUID();
  textMessage.request = { ...content, client_id };
  textMessage.inFlight = true;
  renderButtons();
  if (signaling.send(textMessage.request)) {
    msgEl.status.set("sending", "message.sending");
  } else {
    msgEl.status.set("offline", "message.offline");
  }
}

function onMessageSaved(msg) {
  const isText = textMessage.request?.client_id === msg.client_id;
  const isVoice = voice.clientId === msg.client_id;
  if (!isText && !isVoice) return;
  if (isText) {
    textMessage.request = null;
    textMessage.inFlight = false;
    msgEl.body.value = "";
    renderCounter();
  }
  if (isVoice) endVoice();
  msgEl.status.set("saved", "message.saved_title");
  msgEl.ticket.textContent = msg.ticket;
  msgEl.code.textContent = msg.code ?? "";
  msgEl.due.textContent = t("message.due", { when: formatDate(msg.due_at_ms) });
  msgEl.due.dataset.dueAtMs = String(msg.due_at_ms);
  const query = new URLSearchParams({ t: msg.ticket, ...(msg.code ? { c: msg.code } : {}) });
  msgEl.link.href = `/ticket?${query}`;
  msgEl.form.hidden = true;
  msgEl.result.hidden = false;
  msgEl.result.focus();
  renderButtons();
}

function onMessageError(msg) {
  if (msg.request_type === "leave_message") {
    textMessage.inFlight = false;
    // Refused: nothing was saved; the next try is a new message.
    if (msg.code !== "internal") textMessage.request = null;
  } else if (voice.phase !== "idle" && msg.request_type !== "cancel_voice_message") {
    endVoice();
  }
  msgEl.status.set("failed", "request." + msg.request_type);
  showError(msgEl.error, msg);
  renderButtons();
}

// --- Voice message ------------------------------------------------------------------------------

async function startVoice() {
  if (voice.phase !== "idle" || !["idle", "queued"].includes(call.phase)) return;
  showError(msgEl.error, null);
  showMicProblem(voiceMicProblemBox, null);
  voice.phase = "starting";
  voice.clientId = null;
  renderButtons();
  msgEl.status.set("starting", "voice.starting");
  const service = messageService();
  const base = { type: "start_voice_message", ...(service ? { service } : {}) };
  if (call.phase === "queued" && call.id) {
    // Recorded from the queued call's connection: no new microphone prompt, no negotiation.
    if (!signaling.send({ ...base, call_id: call.id })) failVoice("status.offline");
    return;
  }
  if (!(await explainMicrophone(micDialog, "voice"))) {
    if (voice.phase === "starting") {
      endVoice();
      msgEl.status.set("cancelled", "voice.cancelled");
    }
    return;
  }
  if (voice.phase !== "starting") return;
  let mic;
  try {
    mic = await openMicrophone();
  } catch (error) {
    console.warn("voicedesk: microphone refused", error);
    failVoice(null);
    msgEl.status.set("failed", "mic.problem_title");
    showMicProblem(voiceMicProblemBox, error);
    voiceMicProblemBox.querySelector("h5").focus();
    return;
  }
  if (voice.phase !== "starting") {
    closeAudioPeer(null, mic);
    return;
  }
  voice.mic = mic;
  const ice = await iceConfiguration(loadToken());
  if (voice.phase !== "starting" || voice.mic !== mic) return;
  // The voice leg hears nothing back: no audio elements.
  voice.pc = createAudioPeer(mic, [], ice);
  let sdp;
  try {
    sdp = await offerWhenGathered(voice.pc);
  } catch (error) {
    failVoice(null);
    showError(msgEl.error, { code: "webrtc", message: String(error) });
    return;
  }
  if (voice.phase !== "starting") return;
  if (!signaling.send({ ...base, sdp })) failVoice("status.offline");
}

function failVoice(key) {
  endVoice();
  if (key) showNote(msgEl.error, key);
}

async function onVoiceRecording(msg) {
  if (voice.phase !== "starting") return;
  if (msg.sdp && voice.pc) {
    try {
      await voice.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    } catch (error) {
      signaling.send({ type: "cancel_voice_message" });
      failVoice(null);
      showError(msgEl.error, { code: "bad_sdp", message: String(error) });
      return;
    }
  }
  voice.phase = "recording";
  voice.startedAt = Date.now();
  voice.maxMs = msg.max_ms;
  voice.timer = setInterval(renderVoiceTimer, 250);
  msgEl.status.set("recording", "voice.started");
  renderVoiceTimer();
  renderButtons();
  msgEl.voiceStop.focus();
}

function renderVoiceTimer() {
  if (voice.phase !== "recording" && voice.phase !== "finishing") return;
  const elapsed = Math.min(Date.now() - voice.startedAt, voice.maxMs);
  if (elapsed >= voice.maxMs && voice.phase === "recording") {
    msgEl.voiceTimer.textContent = t("voice.max_reached");
    msgEl.voiceBox.dataset.state = "max";
    return;
  }
  msgEl.voiceBox.dataset.state = "recording";
  msgEl.voiceTimer.textContent = t("voice.recording", {
    elapsed: formatDuration(elapsed),
    remaining: formatDuration(voice.maxMs - elapsed),
  });
}

function finishVoice() {
  if (voice.phase !== "recording") return;
  voice.clientId ??= crypto.randomUUID();
  if (!signaling.send({ type: "finish_voice_message", client_id: voice.clientId, ...contact() })) {
    showNote(msgEl.error, "status.offline");
    return;
  }
  voice.phase = "finishing";
  clearInterval(voice.timer);
  msgEl.status.set("saving", "voice.saving");
  renderButtons();
}

function cancelVoice() {
  if (voice.phase !== "recording") return;
  signaling.send({ type: "cancel_voice_message" });
  // `voice_message_cancelled` confirms; the recording stops here already.
  endVoice();
  msgEl.status.set("cancelled", "voice.cancelled");
  msgEl.voiceStart.focus();
}

/** Back to no voice message: closes a voice-only connection (a queued call keeps its own). */
function endVoice() {
  clearInterval(voice.timer);
  if (voice.pc || voice.mic) closeAudioPeer(voice.pc, voice.mic);
  Object.assign(voice, { phase: "idle", pc: null, mic: null, timer: null, clientId: null });
  renderButtons();
}

// --- The assistant ------------------------------------------------------------------------------

function ask() {
  const text = assistant.input.value.trim();
  if (!text) {
    assistant.input.focus();
    return;
  }
  if (!signaling.send({ type: "ask", text })) {
    addChat("bot", t("status.offline"), "error");
    return;
  }
  addChat("you", text);
  assistant.input.value = "";
}

/** One line of the conversation: `from` `you` or `bot`. Returns the line's body element. */
function addChat(from, text, kind = "") {
  const line = document.createElement("div");
  line.className = `chat-line chat-${from}`;
  if (kind) line.dataset.kind = kind;
  const who = document.createElement("span");
  who.className = "chat-who";
  who.dataset.i18n = from === "you" ? "assistant.you" : "assistant.bot";
  who.textContent = t(who.dataset.i18n);
  const body = document.createElement("div");
  body.className = "chat-body";
  if (text) {
    const p = document.createElement("p");
    p.textContent = text;
    body.append(p);
  }
  line.append(who, body);
  assistant.log.append(line);
  line.scrollIntoView({ block: "nearest" });
  return body;
}

/** The assistant's answer: the best article, suggestions as buttons, and the human options. */
function onAnswer(msg) {
  const body = addChat("bot", null);
  body.parentElement.dataset.testid = "assistant-answer";
  const service = msg.best?.service ?? msg.suggestions.find((s) => s.service)?.service ?? null;
  if (msg.best) {
    body.append(article(msg.best));
  } else {
    const p = document.createElement("p");
    p.textContent = t(msg.suggestions.length ? "assistant.not_sure" : "assistant.nothing");
    body.append(p);
  }
  if (msg.suggestions.length) {
    const label = document.createElement("p");
    label.className = "chat-suggest-label";
    label.textContent = t("assistant.suggestions");
    const list = document.createElement("ul");
    list.className = "chat-suggestions";
    for (const hit of msg.suggestions) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.action = "show";
      button.textContent = hit.title;
      suggestionHits.set(button, hit);
      item.append(button);
      list.append(item);
    }
    body.append(label, list);
  }
  const actions = document.createElement("div");
  actions.className = "actions compact chat-actions";
  const talk = document.createElement("button");
  talk.type = "button";
  talk.dataset.action = "talk";
  talk.dataset.service = service ?? "";
  talk.textContent = t("assistant.talk");
  talk.disabled = call.phase !== "idle" || chat.busy;
  const chatWith = document.createElement("button");
  chatWith.type = "button";
  chatWith.dataset.action = "chat";
  chatWith.dataset.service = service ?? "";
  chatWith.dataset.testid = "assistant-chat";
  chatWith.textContent = t("assistant.chat");
  chatWith.disabled = talk.disabled;
  const leave = document.createElement("button");
  leave.type = "button";
  leave.dataset.action = "leave";
  leave.dataset.service = service ?? "";
  leave.textContent = t("assistant.leave_message");
  actions.append(talk, chatWith, leave);
  body.append(actions);
}

/** Suggestion buttons → their article. */
const suggestionHits = new WeakMap();

function article(hit) {
  const box = document.createElement("article");
  box.className = "chat-article";
  const title = document.createElement("h4");
  title.textContent = hit.title;
  const text = document.createElement("div");
  renderText(text, hit.body);
  box.append(title, text);
  return box;
}

function onAssistantClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const action = button.dataset.action;
  if (action === "show") {
    const hit = suggestionHits.get(button);
    if (!hit) return;
    const body = addChat("bot", null);
    body.append(article(hit));
  } else if (action === "talk") {
    const service = button.dataset.service;
    if (service && getCatalogue().services.some((s) => s.id === service)) {
      serviceSelect.value = service;
      msgEl.service.value = service;
      renderHours();
    }
    callButton.scrollIntoView({ block: "center", behavior: "smooth" });
    callButton.focus({ preventScroll: true });
    startCall();
  } else if (action === "chat") {
    chatAbout(button.dataset.service, assistantTranscript());
  } else if (action === "leave") {
    const service = button.dataset.service;
    if (service && getCatalogue().services.some((s) => s.id === service)) msgEl.service.value = service;
    msgEl.result.hidden = true;
    msgEl.form.hidden = false;
    msgEl.body.focus();
    msgEl.body.scrollIntoView({ block: "center", behavior: "smooth" });
  }
}

/**
 * The conversation with the assistant so far, for the agent of a chat started from it: the
 * citizen's questions and the titles of the answers, newest kept when it is long.
 */
function assistantTranscript() {
  const lines = [...assistant.log.querySelectorAll(".chat-line")].map((line) => {
    const who = line.querySelector(".chat-who")?.textContent ?? "";
    const body = line.querySelector(".chat-body");
    const said = body?.querySelector(".chat-article h4")?.textContent ?? body?.querySelector("p")?.textContent ?? "";
    return `${who}: ${said.trim()}`;
  });
  if (!lines.length) return "";
  const text = `${t("chat.from_assistant")}\n${lines.join("\n")}`;
  return [...text].length > MESSAGE_MAX ? [...text].slice(-MESSAGE_MAX).join("") : text;
}

// --- Rating -------------------------------------------------------------------------------------

/** Asks for the rating of an answered call, or (`kind` "chat") of a chat, by its id. */
function showRating(callId, kind = "call") {
  ratingCallId = callId;
  rating.heading.dataset.i18n = `rating.title_${kind}`;
  rating.heading.textContent = t(rating.heading.dataset.i18n);
  for (const input of rating.levels.querySelectorAll("input")) input.checked = false;
  rating.comment.value = "";
  rating.submit.disabled = false;
  showError(rating.error, null);
  rating.thanks.hidden = true;
  rating.form.hidden = false;
  rating.form.dataset.callId = callId;
  rating.heading.focus();
}

function hideRating() {
  ratingCallId = null;
  rating.form.hidden = true;
  rating.thanks.hidden = true;
}

function sendRating() {
  if (!ratingCallId) return;
  const level = chosenLevel(rating.levels);
  if (!level) {
    showNote(rating.error, "rating.choose");
    rating.levels.querySelector("input")?.focus();
    return;
  }
  showError(rating.error, null);
  const comment = rating.comment.value.trim();
  if (!signaling.send({ type: "rate", call_id: ratingCallId, level, ...(comment ? { comment } : {}) })) {
    showNote(rating.error, "status.offline");
    return;
  }
  rating.submit.disabled = true;
}
