// The owner's signature on the phone: a full-width canvas drawn on with a finger, a stylus or a
// mouse (pointer events, so one code path), a "clear" button, and the result as a JPEG on white
// named by its SHA-256, kept and sent exactly like a photo (store.js / sync.js).

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import { QUALITY, sha256Hex } from "./photos.js";

addStrings({
  "zh-CN": {
    "signature.hint": "请业主在框内签字",
    "signature.clear": "清除重签",
    "signature.label": "签名区",
  },
  en: {
    "signature.hint": "Owner: sign inside the box",
    "signature.clear": "Clear",
    "signature.label": "Signature pad",
  },
});

const HEIGHT_CSS = 220;
const INK = "#0d1620";

/**
 * @returns {{el: HTMLElement, isEmpty: () => boolean, clear: () => void,
 *            toPhoto: () => Promise<{sha256: string, blob: Blob, width: number, height: number}>}}
 */
export function signaturePad({ onChange = () => {} } = {}) {
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "signature-canvas",
    role: "img", "aria-label": t("signature.label"), "data-testid": "signature-canvas" }));
  const hint = h("p", { class: "signature-hint", "aria-hidden": "true" }, t("signature.hint"));
  let strokes = 0;
  let drawing = false;
  let last = null;

  function context() {
    return /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  }

  function paintWhite() {
    const c = context();
    c.save();
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = "#fff";
    c.fillRect(0, 0, canvas.width, canvas.height);
    c.restore();
  }

  /** Size the bitmap to the box on screen (sharp on a 2× or 3× screen); clears the drawing. */
  function fit() {
    const ratio = Math.min(3, window.devicePixelRatio || 1);
    const width = Math.max(1, Math.round((canvas.clientWidth || 300) * ratio));
    const height = Math.round(HEIGHT_CSS * ratio);
    if (canvas.width === width && canvas.height === height) return;
    canvas.width = width;
    canvas.height = height;
    const c = context();
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.lineWidth = 3;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.strokeStyle = INK;
    paintWhite();
    strokes = 0;
    hint.hidden = false;
    onChange();
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (strokes === 0) fit();
    event.preventDefault();
    canvas.setPointerCapture?.(event.pointerId);
    drawing = true;
    last = point(event);
    const c = context();
    c.beginPath();
    c.arc(last.x, last.y, 1.5, 0, Math.PI * 2);
    c.fillStyle = INK;
    c.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing || !last) return;
    event.preventDefault();
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [event];
    const c = context();
    c.beginPath();
    c.moveTo(last.x, last.y);
    for (const e of events.length ? events : [event]) {
      const p = point(e);
      c.lineTo(p.x, p.y);
      last = p;
    }
    c.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    strokes += 1;
    hint.hidden = true;
    onChange();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  function clear() {
    paintWhite();
    strokes = 0;
    hint.hidden = false;
    onChange();
  }

  const el = h("div", { class: "signature" },
    h("div", { class: "signature-box" }, canvas, hint),
    h("button", { type: "button", class: "btn signature-clear", "data-testid": "signature-clear",
      onclick: clear }, t("signature.clear")));
  // Sized once it is on screen (its width is the page's).
  requestAnimationFrame(() => fit());

  return {
    el,
    isEmpty: () => strokes === 0,
    clear,
    async toPhoto() {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
      if (!blob) throw new Error("the signature could not be encoded");
      return { sha256: await sha256Hex(blob), blob, width: canvas.width, height: canvas.height };
    },
  };
}
