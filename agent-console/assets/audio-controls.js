// The citizen's audio during a call: the choice of microphone and speaker, an input level
// meter, the call timer, the network quality indicator, and what to say when the microphone
// cannot be used. Each piece is a small class over elements of hall.html; hall.js drives them
// from the call's phases.
import { t } from "./common.js";

const MIC_KEY = "voicedesk.mic_device";
const SPEAKER_KEY = "voicedesk.speaker_device";

function load(key) {
  try {
    return localStorage.getItem(key) || "";
  } catch {
    return "";
  }
}

function store(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Not remembered; still used for this call.
  }
}

/** The microphone the citizen chose (empty: the system default). */
export function chosenMicrophone() {
  return load(MIC_KEY);
}

/**
 * Asks for a microphone: the chosen one when it is still there, else the default. Rejects with
 * the browser's error (`NotAllowedError`, `NotFoundError`, …) or a `NoMediaDevicesError` when the
 * page cannot use media devices at all (an insecure origin, an old browser).
 */
export async function openMicrophone(deviceId = chosenMicrophone()) {
  if (!navigator.mediaDevices?.getUserMedia) {
    const error = new Error("navigator.mediaDevices is not available");
    error.name = "NoMediaDevicesError";
    throw error;
  }
  if (deviceId) {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } }, video: false });
    } catch (error) {
      // The chosen device is gone: the default will do.
      if (error.name !== "OverconstrainedError" && error.name !== "NotFoundError") throw error;
      store(MIC_KEY, "");
    }
  }
  return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
}

/**
 * What went wrong with the microphone, as the key of an explanation: `denied` (the citizen or the
 * browser said no), `missing` (no microphone), `busy` (in use elsewhere or failing), `unsupported`
 * (no media devices on this page).
 */
export function micProblem(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return "denied";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NoMediaDevicesError":
    case "TypeError":
      return "unsupported";
    default:
      return "busy";
  }
}

// --- Devices ------------------------------------------------------------------------------------

/**
 * The microphone and speaker lists. `onMicChange(deviceId)` runs when the citizen picks another
 * microphone (during a call hall.js swaps the sending track). The speaker list is offered only
 * where audio elements can choose their output (`setSinkId`).
 */
export class DeviceChooser {
  constructor({ micSelect, speakerSelect, speakerField, audios, onMicChange }) {
    this.micSelect = micSelect;
    this.speakerSelect = speakerSelect;
    this.speakerField = speakerField;
    this.audios = audios;
    this.onMicChange = onMicChange;
    this.canChooseSpeaker = typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
    speakerField.hidden = !this.canChooseSpeaker;
    micSelect.addEventListener("change", () => {
      store(MIC_KEY, micSelect.value);
      this.onMicChange(micSelect.value);
    });
    speakerSelect.addEventListener("change", () => {
      store(SPEAKER_KEY, speakerSelect.value);
      this.applySpeaker();
    });
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.refresh());
    this.refresh();
  }

  /** Re-reads the devices (their names are known only once the microphone was allowed). */
  async refresh() {
    let devices = [];
    try {
      devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
    } catch {
      devices = [];
    }
    this.fill(this.micSelect, devices.filter((d) => d.kind === "audioinput"), load(MIC_KEY), "devices.mic_default", "devices.mic_n");
    this.fill(this.speakerSelect, devices.filter((d) => d.kind === "audiooutput"), load(SPEAKER_KEY), "devices.speaker_default", "devices.speaker_n");
    this.applySpeaker();
  }

  fill(select, devices, wanted, defaultKey, numberedKey) {
    const options = [new Option(t(defaultKey), "")];
    let n = 0;
    for (const device of devices) {
      // "default" and "communications" are the system's aliases: the first option stands for them.
      if (!device.deviceId || device.deviceId === "default" || device.deviceId === "communications") continue;
      n += 1;
      options.push(new Option(device.label || t(numberedKey, { n }), device.deviceId));
    }
    select.replaceChildren(...options);
    select.value = options.some((o) => o.value === wanted) ? wanted : "";
  }

  /** Sends every call audio element to the chosen speaker. */
  applySpeaker() {
    if (!this.canChooseSpeaker) return;
    const id = this.speakerSelect.value;
    for (const audio of this.audios) {
      if (audio.sinkId === id) continue;
      audio.setSinkId(id).catch((error) => console.warn("voicedesk: cannot use that speaker", error));
    }
  }
}

/**
 * Swaps the microphone of a live connection: the new track goes out on the first transceiver
 * (`replaceTrack`, no renegotiation) and keeps the mute state; the old stream is stopped.
 * Returns the new stream.
 */
export async function switchMicrophone(pc, oldStream, deviceId, muted) {
  const stream = await openMicrophone(deviceId);
  const [track] = stream.getAudioTracks();
  track.enabled = !muted;
  const sender = pc.getTransceivers()[0]?.sender;
  await sender?.replaceTrack(track);
  for (const old of oldStream?.getTracks() ?? []) old.stop();
  return stream;
}

// --- Level meter --------------------------------------------------------------------------------

/**
 * The microphone's input level on a `role=meter` element (0–100, with a text), from an
 * AnalyserNode; redrawn on animation frames, at most every 100 ms. Muting shows as silence.
 */
export class LevelMeter {
  constructor(element, fill, row = element) {
    this.element = element;
    this.fill = fill;
    this.row = row;
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.frame = null;
    this.last = 0;
    this.set(0);
  }

  attach(stream) {
    this.detach();
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass || !stream?.getAudioTracks().length) return;
    this.context ??= new AudioContextClass();
    this.context.resume?.().catch(() => {});
    this.source = this.context.createMediaStreamSource(stream);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 512;
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.row.hidden = false;
    const tick = (now) => {
      this.frame = requestAnimationFrame(tick);
      if (now - this.last < 100) return;
      this.last = now;
      this.analyser.getFloatTimeDomainData(this.samples);
      let sum = 0;
      for (const s of this.samples) sum += s * s;
      const rms = Math.sqrt(sum / this.samples.length);
      // −60 dBFS → 0, 0 dBFS → 100: speech sits in the upper half.
      const db = 20 * Math.log10(Math.max(rms, 1e-6));
      this.set(Math.round(Math.min(100, Math.max(0, ((db + 60) / 60) * 100))));
    };
    this.frame = requestAnimationFrame(tick);
  }

  detach() {
    cancelAnimationFrame(this.frame);
    this.frame = null;
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
    this.row.hidden = true;
    this.set(0);
  }

  set(level) {
    if (this.element.getAttribute("aria-valuenow") === String(level)) return;
    this.element.setAttribute("aria-valuenow", String(level));
    this.element.setAttribute("aria-valuetext", t("audio.level_text", { level }));
    this.fill.style.transform = `scaleX(${level / 100})`;
  }
}

// --- Call timer ---------------------------------------------------------------------------------

/** "Call time 3:07" from the moment an agent answered. */
export class CallTimer {
  constructor(element) {
    this.element = element;
    this.startedAt = 0;
    this.timer = null;
  }

  start(at = Date.now()) {
    this.stop();
    this.startedAt = at;
    this.element.hidden = false;
    this.render();
    this.timer = setInterval(() => this.render(), 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.element.hidden = true;
    delete this.element.dataset.seconds;
  }

  render() {
    if (!this.timer && !this.startedAt) return;
    const seconds = Math.max(0, Math.floor((Date.now() - this.startedAt) / 1000));
    const m = Math.floor(seconds / 60);
    const s = String(seconds % 60).padStart(2, "0");
    this.element.dataset.seconds = String(seconds);
    this.element.textContent = t("audio.timer", { time: `${m}:${s}` });
  }
}

// --- Network quality ----------------------------------------------------------------------------

/**
 * The connection's quality from `pc.getStats()` every 2 s:
 *   round-trip time — the selected candidate pair's `currentRoundTripTime`, else the
 *                     remote-inbound-rtp report's `roundTripTime`;
 *   loss            — inbound-rtp `packetsLost` / (`packetsLost` + `packetsReceived`) over the
 *                     last interval (deltas, so an old burst does not stick);
 *   jitter          — inbound-rtp `jitter`.
 * Thresholds (what a voice call tolerates; ITU-T G.114 puts one-way delay under 150 ms as good):
 *   good: rtt < 150 ms and loss < 1 % and jitter < 30 ms;
 *   poor: rtt > 400 ms or loss > 5 % or jitter > 80 ms;
 *   fair: anything between.
 */
export const QUALITY_THRESHOLDS = {
  good: { rttMs: 150, lossPct: 1, jitterMs: 30 },
  poor: { rttMs: 400, lossPct: 5, jitterMs: 80 },
};

export function qualityLevel({ rttMs, lossPct, jitterMs }) {
  const { good, poor } = QUALITY_THRESHOLDS;
  if ((rttMs ?? 0) > poor.rttMs || (lossPct ?? 0) > poor.lossPct || (jitterMs ?? 0) > poor.jitterMs) return "poor";
  if ((rttMs ?? 0) < good.rttMs && (lossPct ?? 0) < good.lossPct && (jitterMs ?? 0) < good.jitterMs) return "good";
  return "fair";
}

export class QualityMonitor {
  constructor(element, textElement) {
    this.element = element;
    this.text = textElement;
    this.pc = null;
    this.timer = null;
    this.previous = null;
    this.figures = null;
  }

  start(pc) {
    if (this.pc === pc) return;
    this.stop();
    this.pc = pc;
    this.element.hidden = false;
    this.element.dataset.level = "";
    this.text.textContent = t("quality.measuring");
    this.element.title = "";
    this.timer = setInterval(() => this.sample(), 2000);
    this.sample();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.pc = null;
    this.previous = null;
    this.figures = null;
    this.path = null;
    this.element.hidden = true;
    this.element.dataset.level = "";
  }

  async sample() {
    const pc = this.pc;
    if (!pc || pc.connectionState === "closed") return;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    if (pc !== this.pc) return;
    let rtt = null;
    let remoteRtt = null;
    let lost = 0;
    let received = 0;
    let jitter = null;
    let sawInbound = false;
    const pairs = new Map();
    let selectedPair = null;
    report.forEach((stat) => {
      if (stat.type === "transport" && stat.selectedCandidatePairId) selectedPair = stat.selectedCandidatePairId;
      if (stat.type === "candidate-pair") pairs.set(stat.id, stat);
      if (stat.type === "remote-inbound-rtp" && typeof stat.roundTripTime === "number") remoteRtt = stat.roundTripTime;
      if (stat.type === "inbound-rtp" && (stat.kind ?? stat.mediaType) === "audio") {
        sawInbound = true;
        lost += Math.max(0, stat.packetsLost ?? 0);
        received += stat.packetsReceived ?? 0;
        if (typeof stat.jitter === "number") jitter = Math.max(jitter ?? 0, stat.jitter);
      }
    });
    const pair =
      pairs.get(selectedPair) ??
      [...pairs.values()].find((p) => p.nominated && p.state === "succeeded") ??
      [...pairs.values()].find((p) => p.state === "succeeded");
    // Which way the call went: through a TURN server, straight over TCP, or straight over UDP.
    const local = pair ? report.get(pair.localCandidateId) : null;
    this.path = local?.candidateType === "relay" ? "turn" : local?.protocol === "tcp" ? "tcp" : local ? "udp" : null;
    if (typeof pair?.currentRoundTripTime === "number") rtt = pair.currentRoundTripTime;
    else rtt = remoteRtt;
    if (rtt == null && !sawInbound) return; // Nothing measured yet (still connecting).
    let lossPct = 0;
    if (this.previous) {
      const dLost = lost - this.previous.lost;
      const dReceived = received - this.previous.received;
      lossPct = dLost + dReceived > 0 ? (Math.max(0, dLost) / (Math.max(0, dLost) + Math.max(0, dReceived))) * 100 : 0;
    } else if (lost + received > 0) {
      lossPct = (lost / (lost + received)) * 100;
    }
    this.previous = { lost, received };
    this.figures = {
      rttMs: rtt == null ? null : Math.round(rtt * 1000),
      lossPct: Math.round(lossPct * 10) / 10,
      jitterMs: jitter == null ? null : Math.round(jitter * 1000),
    };
    this.render();
  }

  render() {
    if (!this.figures) {
      if (this.pc) this.text.textContent = t("quality.measuring");
      return;
    }
    const level = qualityLevel(this.figures);
    const { rttMs, lossPct, jitterMs } = this.figures;
    const figures = {
      rtt: rttMs == null ? "—" : String(rttMs),
      loss: String(lossPct),
      jitter: jitterMs == null ? "—" : String(jitterMs),
    };
    this.element.dataset.level = level;
    this.element.dataset.path = this.path ?? "";
    this.element.title = t("quality.details", figures);
    // The whole sentence per level (no translated word is put into another sentence), then the
    // path's own sentence.
    const path = this.path ? ` ${t(`quality.path_${this.path}`)}` : "";
    this.text.textContent = `${t(`quality.summary_${level}`, figures)}${path}`;
  }
}

// --- Before the microphone ----------------------------------------------------------------------

const EXPLAINED_KEY = "voicedesk.mic_explained";

function explained() {
  try {
    return sessionStorage.getItem(EXPLAINED_KEY) === "1";
  } catch {
    return false;
  }
}

/**
 * Tells the citizen why the microphone is needed and that the call may be monitored, before the
 * browser asks (`purpose` "call" or "voice"). Resolves true to go on, false when cancelled.
 * Once agreed in this tab it is not asked again (a reload that rejoins a queued call, a second
 * call). `dialog` is the `<dialog>` with `[data-purpose]` paragraphs and the two buttons.
 */
export function explainMicrophone(dialog, purpose, focusAfter = null) {
  if (explained()) return Promise.resolve(true);
  for (const p of dialog.querySelectorAll("[data-purpose]")) p.hidden = p.dataset.purpose !== purpose;
  const go = dialog.querySelector('button[value="continue"]');
  return new Promise((resolve) => {
    // The dialog gives the focus back to the control that opened it; when that one is disabled
    // by now (Call, while the call starts), `focusAfter()` names where it goes instead — in the
    // same click, so the focus is never left on the page's body.
    const onGo = (event) => {
      event.preventDefault();
      dialog.close("continue");
      const active = document.activeElement;
      if (!active || active === document.body || active.disabled || dialog.contains(active)) {
        focusAfter?.()?.focus();
      }
    };
    go.addEventListener("click", onGo);
    const done = (ok) => {
      go.removeEventListener("click", onGo);
      dialog.removeEventListener("close", onClose);
      if (ok) {
        try {
          sessionStorage.setItem(EXPLAINED_KEY, "1");
        } catch {
          // Asked again next time.
        }
      }
      resolve(ok);
    };
    const onClose = () => done(dialog.returnValue === "continue");
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  });
}

/**
 * Shows why the microphone could not be used (`micProblem(error)`) in `box`, with what to do and
 * the ways to get help without a call; `null` hides it. The box's `[data-problem]` paragraphs
 * are the explanations; `data-problem` on the box says which one is shown.
 */
export function showMicProblem(box, error) {
  if (!error) {
    box.hidden = true;
    delete box.dataset.problem;
    return;
  }
  const problem = micProblem(error);
  box.dataset.problem = problem;
  for (const p of box.querySelectorAll("[data-problem]")) p.hidden = !p.dataset.problem.split(" ").includes(problem);
  box.hidden = false;
}
