// Scan a checkpoint label: the rear camera full screen, decoding until a QR code is read, then the
// server checks the label and the checkpoint screen opens. Offline, the label's own URL is opened
// (the server checks the signature again when the record syncs). A damaged label's printed code
// can be typed instead; such a check is recorded as unverified.
//
// Decoding: the browser's BarcodeDetector where it reads QR codes (Android Chrome), otherwise jsQR
// in a worker (scan-worker.js) fed with frames scaled to at most MAX_WIDTH pixels, one at a time.
// The root element says which one runs: data-decoder="barcode-detector" | "jsqr".

import { api, ApiError, NetworkError, SIGNED_OUT_CODES } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

/** Frames for jsQR are scaled down to this width: enough for a label filling a third of the view. */
const MAX_WIDTH = 800;
/** After "scan again", the label just rejected is ignored this long (it is probably still in view). */
const REJECTED_QUIET_MS = 2500;

// The label URL, as the server reads it (qr/signing.py parse_label): <base>/c/<CODE>?v=<n>&s=<sig>
const CODE_RE = /^[A-Z0-9-]{1,64}$/;
const VERSION_RE = /^(0|[1-9][0-9]{0,17})$/;
const SIGNATURE_RE = /^[A-Za-z0-9_-]{11}$/;
const LABEL_RE = /^https?:\/\/[^/?#\s]+(?:\/[^?#\s]*)?\/c\/([A-Z0-9-]{1,64})\?([^#\s]*)$/i;

/**
 * What a decoded text says, if it is one of our label URLs; null otherwise.
 * @param {string} text
 * @returns {{code: string, version: string, signature: string} | null}
 */
export function parseLabel(text) {
  const trimmed = String(text).trim();
  if (trimmed.length > 2048 || !/^[\x21-\x7e]+$/.test(trimmed)) return null;
  const match = LABEL_RE.exec(trimmed);
  if (!match || !CODE_RE.test(match[1])) return null; // the code is case-sensitive: uppercase only
  /** @type {Record<string, string>} */
  const params = {};
  for (const item of match[2].split("&")) {
    const at = item.indexOf("=");
    if (at < 0) return null;
    const key = item.slice(0, at);
    if ((key !== "v" && key !== "s") || key in params) return null;
    params[key] = item.slice(at + 1);
  }
  if (!VERSION_RE.test(params.v ?? "") || !SIGNATURE_RE.test(params.s ?? "")) return null;
  return { code: match[1], version: params.v, signature: params.s };
}

/** The app's own address for a label (the checkpoint screen). */
function labelPath(label) {
  return `/c/${label.code}?v=${label.version}&s=${encodeURIComponent(label.signature)}`;
}

/** A typed code → what the server accepts: full-width letters folded, uppercase, A-Z 0-9 - only. */
function cleanCode(value) {
  return value.normalize("NFKC").toUpperCase().replace(/[^A-Z0-9-]/g, "");
}

// ---------------------------------------------------------------------------------------------
// Decoders: {name, ready: Promise, decode(video) → Promise<string | null>, close()}

async function chooseDecoder() {
  const Detector = /** @type {any} */ (window).BarcodeDetector;
  if (Detector) {
    try {
      const formats = await Detector.getSupportedFormats();
      if (formats.includes("qr_code")) return barcodeDetector(new Detector({ formats: ["qr_code"] }));
    } catch {
      // no usable detector on this phone: fall back to jsQR
    }
  }
  return jsqrWorker();
}

function barcodeDetector(detector) {
  return {
    name: "barcode-detector",
    ready: Promise.resolve(),
    async decode(video) {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    },
    close() {},
  };
}

function jsqrWorker() {
  const worker = new Worker("/static/scan-worker.js");
  let nextId = 1;
  /** @type {Map<number, {resolve: Function, reject: Function}>} */
  const pending = new Map();
  // ImageBitmap → worker (the scaling and the pixel read happen off the main thread too), unless
  // this browser lacks createImageBitmap resizing or OffscreenCanvas in workers: then a canvas here.
  let useBitmap = typeof createImageBitmap === "function" && typeof OffscreenCanvas === "function";
  /** @type {HTMLCanvasElement | null} */
  let canvas = null;

  const ready = new Promise((resolve, reject) => {
    worker.addEventListener("message", (event) => {
      const message = event.data;
      if (message.type === "ready") {
        resolve(undefined);
        return;
      }
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.type === "result") waiter.resolve(message.text);
      else waiter.reject(new Error(message.message));
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      reject(new Error(event.message || "scan worker failed"));
      for (const waiter of pending.values()) waiter.reject(new Error("scan worker failed"));
      pending.clear();
    });
  });

  function send(message, transfer) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  async function viaCanvas(video, width, height) {
    canvas ??= document.createElement("canvas");
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const context = /** @type {CanvasRenderingContext2D} */ (
      canvas.getContext("2d", { willReadFrequently: true }));
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    return send({ type: "pixels", width, height, buffer: image.data.buffer }, [image.data.buffer]);
  }

  return {
    name: "jsqr",
    ready,
    /** @param {HTMLVideoElement} video */
    async decode(video) {
      const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      if (useBitmap) {
        try {
          const bitmap = await createImageBitmap(video, {
            resizeWidth: width, resizeHeight: height, resizeQuality: "low" });
          return await send({ type: "bitmap", bitmap }, [bitmap]);
        } catch (error) {
          console.warn("scanner: bitmap frames unavailable, using a canvas", error);
          useBitmap = false;
        }
      }
      return viaCanvas(video, width, height);
    },
    close() {
      worker.terminate();
      for (const waiter of pending.values()) waiter.resolve(null);
      pending.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Feedback: a short beep (WebAudio) and a buzz. Neither is essential; both fail quietly.

/** @type {AudioContext | null} */
let audio = null;

/** Created or resumed inside a tap, so the beep is allowed to sound later. */
function unlockAudio() {
  try {
    const Context = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (!Context) return;
    audio ??= new Context();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

function beep(frequency, seconds) {
  unlockAudio();
  if (!audio) return;
  try {
    const start = audio.currentTime;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + seconds);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + seconds);
  } catch {
    // no sound this time
  }
}

function buzz(pattern) {
  try {
    navigator.vibrate?.(pattern);
  } catch {
    // not allowed here
  }
}

const success = () => { beep(1320, 0.12); buzz(80); };
const failure = () => { beep(330, 0.25); buzz([60, 60, 60]); };

// ---------------------------------------------------------------------------------------------
// The screen

/** The scanner on screen now; a new render (language switch) stops the old one at once. */
let current = null;

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  current?.stop();
  const scanner = createScanner(ctx);
  current = scanner;
  return scanner.root;
}

function cameraProblem(error) {
  const name = error && typeof error === "object" ? error.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "scan.camera_denied";
  if (name === "NotReadableError" || name === "AbortError") return "scan.camera_busy";
  return "scan.camera_missing";
}

/** @param {import("../app.js").Ctx} ctx */
function createScanner(ctx) {
  let state = "starting"; // starting | scanning | resolving | message | no-camera | stopped
  /** @type {MediaStream | null} */
  let stream = null;
  /** @type {ReturnType<typeof jsqrWorker> | null} */
  let decoder = null;
  let looping = false;
  let torchOn = false;
  let rejected = { text: "", until: 0 };

  const video = h("video", { class: "scan-video", playsinline: true, muted: true, autoplay: true,
    "aria-hidden": "true", "data-testid": "scan-video" });
  video.muted = true;
  const hint = h("p", { class: "scan-hint", role: "status", "aria-live": "polite",
    "data-testid": "scan-hint" }, t("scan.starting"));
  const problemText = h("p", { class: "scan-problem-text", "data-testid": "scan-camera-error" });
  const problem = h("div", { class: "scan-problem", role: "alert", hidden: true },
    problemText,
    h("button", { type: "button", class: "btn btn-scan-light", "data-testid": "scan-retry",
      onclick: () => startCamera() }, t("scan.retry")));
  const view = h("div", { class: "scan-view" },
    video, h("div", { class: "scan-aim", "aria-hidden": "true" }), hint, problem);

  const messageText = h("p", { class: "scan-message-text", "data-testid": "scan-message" });
  const messageCode = h("p", { class: "scan-message-code", "data-testid": "scan-message-code" });
  const continueButton = h("button", { type: "button", class: "btn btn-primary btn-block btn-scan",
    "data-testid": "scan-continue", onclick: resume }, t("scan.continue"));
  const message = h("div", { class: "scan-message", role: "alert", hidden: true },
    h("div", { class: "scan-message-card" }, messageText, messageCode), continueButton);

  const torchButton = h("button", { type: "button", class: "btn btn-scan-light btn-scan",
    "aria-pressed": "false", hidden: true, "data-testid": "scan-torch", onclick: toggleTorch },
    t("scan.torch"));

  // Manual entry
  const codeInput = h("input", { id: "scan-code", class: "input scan-code-input", type: "text",
    name: "code", autocomplete: "off", autocapitalize: "characters", autocorrect: "off",
    spellcheck: "false", enterkeyhint: "go", maxlength: "64", "aria-describedby": "scan-manual-note",
    "data-testid": "scan-code-input",
    oninput: (event) => {
      if (event.isComposing) return;
      const cleaned = cleanCode(codeInput.value);
      if (cleaned !== codeInput.value) codeInput.value = cleaned;
    } });
  const manualError = h("p", { class: "form-error", role: "alert", hidden: true,
    "data-testid": "scan-manual-error" });
  const manualSubmit = h("button", { type: "submit", class: "btn btn-primary btn-block btn-scan",
    "data-testid": "scan-manual-submit" }, t("scan.manual_submit"));
  const manualForm = h("form", { class: "scan-manual", hidden: true, novalidate: true,
    "data-testid": "scan-manual", onsubmit: submitManual },
    h("label", { class: "field-label", for: "scan-code" }, t("scan.manual_label")),
    codeInput,
    h("p", { id: "scan-manual-note", class: "scan-manual-note", "data-testid": "scan-manual-note" },
      t("scan.manual_notice")),
    manualError,
    manualSubmit);
  const manualToggle = h("button", { type: "button", class: "btn btn-scan-light btn-scan",
    "aria-expanded": "false", "aria-controls": "scan-manual", "data-testid": "scan-manual-toggle",
    onclick: () => showManual(manualForm.hidden) }, t("scan.manual_open"));
  manualForm.id = "scan-manual";

  const root = h("section", { class: "scanner", "data-testid": "scan-screen",
    "data-state": state, "aria-label": t("scan.title"), onpointerdown: unlockAudio },
    h("h1", { class: "visually-hidden" }, t("scan.title")),
    view,
    h("div", { class: "scan-panel" },
      manualForm,
      h("div", { class: "scan-controls" }, torchButton, manualToggle)),
    message);

  function setState(next) {
    state = next;
    root.dataset.state = next;
  }

  function alive() {
    return state !== "stopped" && root.isConnected;
  }

  function showManual(open, { focus = true } = {}) {
    manualForm.hidden = !open;
    manualToggle.setAttribute("aria-expanded", String(open));
    manualToggle.textContent = t(open ? "scan.manual_close" : "scan.manual_open");
    if (open && focus) codeInput.focus({ preventScroll: true });
  }

  // ---- camera ------------------------------------------------------------------------------

  function stopCamera() {
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    torchOn = false;
    torchButton.hidden = true;
  }

  function showCameraProblem(key) {
    stopCamera();
    setState("no-camera");
    hint.hidden = true;
    problemText.textContent = t(key);
    problem.hidden = false;
    manualToggle.hidden = true; // the form stays open: it is the way forward now
    showManual(true, { focus: false }); // no keyboard over the explanation
  }

  async function startCamera() {
    if (!alive() || stream) return;
    problem.hidden = true;
    manualToggle.hidden = false;
    hint.hidden = false;
    hint.textContent = t("scan.starting");
    setState("starting");
    if (!navigator.mediaDevices?.getUserMedia) {
      showCameraProblem(window.isSecureContext ? "scan.camera_missing" : "scan.camera_insecure");
      return;
    }
    let opened;
    try {
      opened = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 },
          height: { ideal: 720 } },
      });
    } catch (error) {
      if (alive()) showCameraProblem(cameraProblem(error));
      return;
    }
    if (!alive() || document.visibilityState === "hidden") {
      for (const track of opened.getTracks()) track.stop();
      return;
    }
    stream = opened;
    video.srcObject = stream;
    try {
      await video.play();
    } catch {
      // autoplay of a muted inline video is allowed; frames still arrive if play() complained
    }
    offerTorch(stream.getVideoTracks()[0]);
    try {
      decoder ??= await chooseDecoder();
      root.dataset.decoder = decoder.name;
      await decoder.ready;
    } catch (error) {
      console.warn("scanner: decoder failed to start", error);
      showCameraProblem("scan.decoder_failed");
      return;
    }
    if (!alive() || !stream) return;
    setState("scanning");
    hint.textContent = t("scan.hint");
    loop();
  }

  /** @param {MediaStreamTrack | undefined} track */
  function offerTorch(track) {
    let capabilities = {};
    try {
      capabilities = track?.getCapabilities?.() || {};
    } catch {
      capabilities = {};
    }
    torchButton.hidden = !(/** @type {any} */ (capabilities).torch);
    torchButton.setAttribute("aria-pressed", "false");
  }

  async function toggleTorch() {
    const track = stream?.getVideoTracks()[0];
    if (!track) return;
    try {
      await track.applyConstraints({ advanced: [/** @type {any} */ ({ torch: !torchOn })] });
      torchOn = !torchOn;
      torchButton.setAttribute("aria-pressed", String(torchOn));
    } catch (error) {
      console.warn("scanner: torch refused", error);
      torchButton.hidden = true;
    }
  }

  // ---- decoding loop: one frame in flight -------------------------------------------------

  function nextFrame(callback) {
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(() => callback());
    else requestAnimationFrame(() => callback());
  }

  function loop() {
    if (looping) return;
    looping = true;
    nextFrame(tick);
  }

  async function tick() {
    if (!alive()) {
      looping = false;
      stop();
      return;
    }
    if (state !== "scanning" || !decoder) {
      looping = false;
      return;
    }
    let text = null;
    if (video.readyState >= 2 && video.videoWidth > 0) {
      try {
        text = await decoder.decode(video);
      } catch (error) {
        console.warn("scanner: frame not decoded", error);
      }
    }
    if (!alive() || state !== "scanning") {
      looping = false;
      return;
    }
    if (text && !(text === rejected.text && performance.now() < rejected.until)) {
      looping = false;
      onDecoded(text);
      return;
    }
    nextFrame(tick);
  }

  // ---- a code was read --------------------------------------------------------------------

  async function onDecoded(text) {
    const label = parseLabel(text);
    if (!label) {
      failure();
      showMessage(t("scan.not_our_label"), "", text);
      return;
    }
    setState("resolving");
    hint.textContent = t("scan.checking");
    try {
      await api("/api/scan/resolve", { method: "POST", body: { text } });
    } catch (error) {
      if (!alive()) return;
      if (error instanceof NetworkError) {
        // Offline: open the label as printed; the server checks it when the record syncs.
        success();
        go(labelPath(label));
        return;
      }
      if (error instanceof ApiError && SIGNED_OUT_CODES.has(error.code)) return; // the shell asks to log in
      failure();
      const known = error instanceof ApiError ? `scan.error.${error.code}` : "";
      const fallback = known && t(known) !== known ? t(known) : t("error.generic");
      showMessage((error instanceof ApiError && error.message) || fallback, label.code, text);
      return;
    }
    if (!alive()) return;
    success();
    go(labelPath(label));
  }

  function showMessage(text, code, decoded) {
    setState("message");
    rejected = { text: decoded, until: Infinity };
    messageText.textContent = text;
    messageCode.textContent = code ? `${t("checkpoint.code")}: ${code}` : "";
    messageCode.hidden = !code;
    message.hidden = false;
    hint.textContent = text;
    continueButton.focus({ preventScroll: true });
  }

  function resume() {
    message.hidden = true;
    rejected.until = performance.now() + REJECTED_QUIET_MS;
    if (!stream) {
      startCamera();
      return;
    }
    setState("scanning");
    hint.textContent = t("scan.hint");
    loop();
  }

  // ---- manual entry -----------------------------------------------------------------------

  function showManualError(text) {
    manualError.textContent = text;
    manualError.hidden = false;
    codeInput.setAttribute("aria-invalid", "true");
    codeInput.focus({ preventScroll: true });
  }

  async function submitManual(event) {
    event.preventDefault();
    if (manualSubmit.disabled) return;
    const code = cleanCode(codeInput.value);
    codeInput.value = code;
    if (!CODE_RE.test(code)) {
      showManualError(t("scan.manual_invalid"));
      return;
    }
    if (!ctx.site) {
      showManualError(t("home.no_site"));
      return;
    }
    manualError.hidden = true;
    codeInput.removeAttribute("aria-invalid");
    manualSubmit.disabled = true;
    try {
      const found = await api(
        `/api/checkpoints/by-code/${encodeURIComponent(code)}?site=${ctx.site.id}`);
      go(`/c/${encodeURIComponent(found.checkpoint.code)}?manual=1`);
    } catch (error) {
      if (error instanceof NetworkError) {
        // Offline: the code cannot be looked up now; the record is unverified either way.
        go(`/c/${code}?manual=1`);
        return;
      }
      if (error instanceof ApiError && SIGNED_OUT_CODES.has(error.code)) return;
      const known = error instanceof ApiError ? `scan.error.${error.code}` : "";
      const fallback = known && t(known) !== known ? t(known) : t("error.generic");
      showManualError((error instanceof ApiError && error.message) || fallback);
    } finally {
      manualSubmit.disabled = false;
    }
  }

  // ---- leaving ----------------------------------------------------------------------------

  function go(path) {
    stop();
    ctx.navigate(path);
  }

  function onVisibility() {
    if (!alive()) {
      stop();
      return;
    }
    if (document.visibilityState === "hidden") {
      // The phone is locked or another app is in front: give the camera back.
      stopCamera();
      if (state === "scanning" || state === "starting") setState("starting");
    } else if (state === "starting") {
      startCamera();
    }
  }

  // The shell replaces screens without telling them; this notices and lets the camera go.
  const watchdog = setInterval(() => {
    if (!root.isConnected) stop();
  }, 500);

  function stop() {
    if (state === "stopped") return;
    setState("stopped");
    clearInterval(watchdog);
    document.removeEventListener("visibilitychange", onVisibility);
    stopCamera();
    decoder?.close();
    decoder = null;
    if (current === scanner) current = null;
  }

  document.addEventListener("visibilitychange", onVisibility);
  // Start after the shell has put the screen in the page (render returns the element first).
  queueMicrotask(() => startCamera());

  const scanner = { root, stop };
  return scanner;
}
