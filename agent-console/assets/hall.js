// The citizen's page: pick a service, read the monitoring notice, call, hear the hold tune with
// the live position and estimated wait, talk, mute, hang up; told when a supervisor joins the
// call (barge) or takes it over, when the call is transferred, when the queue is closed. A
// reload or a dropped connection while queued rejoins the parked call and keeps the place.
import {
  Signaling,
  StatusLine,
  closeAudioPeer,
  createAudioPeer,
  formatDateTime,
  formatHours,
  getCatalogue,
  getMicrophone,
  loadCatalogue,
  localName,
  offerWhenGathered,
  serviceName,
  setupLang,
  showError,
  t,
} from "./common.js";

const TOKEN_KEY = "voicedesk.citizen_token";

const $ = (id) => document.getElementById(id);
const form = $("call-form");
const serviceSelect = $("service-select");
const callButton = $("call-button");
const muteButton = $("mute-button");
const hangupButton = $("hangup-button");
const errorBox = $("error-message");
const hoursLine = $("service-hours");
const waitLimit = $("wait-limit");
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));
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
  /** Set while rejoining a parked call after a reload: the `rejoin_call` id. */
  rejoin: null,
};

/** Set once `loadCatalogue` has finished, whether or not it got the catalogue. */
let catalogueTried = false;

/** A token from a `welcome` we hold back while a `resume` of the stored one is pending. */
let freshToken = null;

const signaling = new Signaling({ onMessage, onDrop });

setupLang(() => {
  renderServices();
  renderButtons();
});
status.set("idle", "status.idle");
renderButtons();
loadCatalogue().then(() => {
  catalogueTried = true;
  renderServices();
  renderButtons();
});
serviceSelect.addEventListener("change", renderHours);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  startCall();
});
hangupButton.addEventListener("click", hangUp);
muteButton.addEventListener("click", toggleMute);
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
  if (services.some((s) => s.id === previous)) serviceSelect.value = previous;
  renderHours();
}

/** The chosen service's hours and whether it is open now. */
function renderHours() {
  const { services, skills } = getCatalogue();
  const service = services.find((s) => s.id === serviceSelect.value);
  const skill = service && skills.find((k) => k.id === service.skill_id);
  hoursLine.textContent = skill
    ? t("hall.hours", {
        hours: formatHours(skill.hours),
        open: skill.open_now,
      })
    : "";
}

function renderButtons() {
  callButton.disabled = call.phase !== "idle";
  serviceSelect.disabled = call.phase !== "idle" || !getCatalogue().services.length;
  hangupButton.disabled = call.phase === "idle" || call.phase === "ending";
  muteButton.disabled = !call.mic;
  muteButton.setAttribute("aria-pressed", String(call.muted));
  muteButton.dataset.i18n = call.muted ? "button.unmute" : "button.mute";
  muteButton.textContent = t(muteButton.dataset.i18n);
}

async function startCall(rejoinId = null) {
  if (call.phase !== "idle") return;
  showError(errorBox, null);
  call.phase = "starting";
  call.rejoin = rejoinId;
  renderButtons();
  status.set("requesting_mic", rejoinId ? "status.rejoining" : "status.requesting_mic");
  let mic;
  try {
    mic = await getMicrophone();
  } catch (error) {
    console.warn("voicedesk: microphone refused", error);
    resetCall();
    status.set("idle", "status.mic_denied");
    return;
  }
  if (call.phase !== "starting") {
    // Hung up while the browser was asking.
    closeAudioPeer(null, mic);
    return;
  }
  call.mic = mic;
  status.set("setting_up", "status.setting_up");
  const pc = createAudioPeer(mic, audios);
  call.pc = pc;
  pc.addEventListener("connectionstatechange", () => {
    if (pc === call.pc && pc.connectionState === "failed") {
      status.set("media_failed", "status.media_failed");
    }
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
  const request = call.rejoin
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

function toggleMute() {
  if (!call.mic) return;
  call.muted = !call.muted;
  for (const track of call.mic.getAudioTracks()) track.enabled = !call.muted;
  renderButtons();
}

/** Back to idle: closes the connection and stops the microphone. `window.voicedesk.pc` keeps
 * the closed connection until the next call. */
function resetCall() {
  closeAudioPeer(call.pc, call.mic, audios);
  Object.assign(call, {
    phase: "idle",
    id: null,
    pc: null,
    mic: null,
    muted: false,
    supportAnnounced: null,
    rejoin: null,
  });
  waitLimit.hidden = true;
  renderButtons();
}

function endCall(reason, opensAtMs) {
  resetCall();
  if (reason === "closed" && opensAtMs) {
    status.set("ended", "status.closed", { when: formatDateTime(opensAtMs) });
  } else {
    status.set("ended", "status.ended", { reason });
  }
}

async function onMessage(msg) {
  switch (msg.type) {
    case "welcome":
      onWelcome(msg);
      break;
    case "resumed":
      storeToken(msg.citizen_token);
      freshToken = null;
      if (msg.parked_call && call.phase === "idle") {
        if (getCatalogue().services.some((s) => s.id === msg.parked_call.service)) {
          serviceSelect.value = msg.parked_call.service;
        }
        await startCall(msg.parked_call.call_id);
      }
      break;
    case "call_queued":
      await onCallQueued(msg);
      break;
    case "queue_position":
      if (msg.call_id === call.id && call.phase === "queued") {
        if (msg.estimated_wait_ms != null) {
          const minutes = Math.max(1, Math.round(msg.estimated_wait_ms / 60000));
          status.set("queued", "status.queue_position_eta", { position: msg.position, minutes });
        } else {
          status.set("queued", "status.queue_position", { position: msg.position });
        }
        status.element.dataset.position = String(msg.position);
      }
      break;
    case "wait_limit_reached":
      if (msg.call_id === call.id) waitLimit.hidden = false;
      break;
    case "call_transferred":
      if (msg.call_id === call.id) {
        call.phase = "queued";
        status.set("queued", "status.transferred", { service: serviceName(msg.service) });
        renderButtons();
      }
      break;
    case "call_connected":
      if (msg.call_id === call.id) {
        call.phase = "connected";
        status.set("connected", "status.connected", { peer: msg.peer_name });
        renderButtons();
      }
      break;
    case "call_ended":
      // A call turned away at once (closed, full, nobody signed in) ends before `call_queued`.
      if (msg.call_id === call.id || (call.phase === "starting" && !call.id)) {
        endCall(msg.reason, msg.opens_at_ms);
      }
      break;
    case "support_changed":
      if (msg.call_id === call.id) onSupportChanged(msg.supporters);
      break;
    case "media_state":
      // The relay's word on this call's connection; a failure is shown, the rest is routine.
      if (msg.state === "failed" && call.phase !== "idle") {
        status.set("media_failed", "status.media_failed");
      }
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
  }
  if (call.phase === "idle" && status.element.dataset.state === "reconnecting") {
    status.set("idle", "status.idle");
  }
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
  renderButtons();
}

function onError(msg) {
  if (msg.request_type === "resume") {
    // The stored identity is gone; keep the one this connection was given.
    if (freshToken) storeToken(freshToken);
    freshToken = null;
    return;
  }
  showError(errorBox, msg);
  if (["call", "rejoin_call"].includes(msg.request_type) && call.phase === "starting") {
    resetCall();
    status.set("idle", "status.idle");
  }
}

function onDrop(retrySeconds) {
  // A queued call is parked by the server and rejoined after `resume` (its media leg is
  // closed: a new offer follows); a call in progress ends with the connection.
  if (call.phase !== "idle") resetCall();
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
