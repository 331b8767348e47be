// The QR decoder off the main thread, for phones whose browser has no BarcodeDetector.
// A classic worker: jsQR's npm build is UMD, and importScripts puts it on `self.jsQR`.
//
// Messages in (one frame at a time; the page waits for the answer before sending the next):
//   {type: "bitmap", id, bitmap}                      an ImageBitmap (transferred), already scaled
//   {type: "pixels", id, width, height, buffer}       RGBA pixels (ArrayBuffer, transferred)
// Messages out:
//   {type: "ready"}                                   jsQR loaded
//   {type: "result", id, text | null, ms}             decoded text (null: no code in this frame)
//   {type: "error", id, message}                      this frame could not be read

importScripts("/vendor/jsqr/dist/jsQR.js");

/** @type {OffscreenCanvas | null} */
let canvas = null;
/** @type {OffscreenCanvasRenderingContext2D | null} */
let context = null;

/** @param {ImageBitmap} bitmap */
function pixelsOf(bitmap) {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext("2d", { willReadFrequently: true });
  }
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, width, height);
}

// Labels are printed dark on light, so the inverted pass (which doubles the time of every frame
// without a code) is left out; jsQR's binariser is local, which copes with dim, flat light.
const OPTIONS = { inversionAttempts: "dontInvert" };

self.addEventListener("message", (event) => {
  const message = event.data || {};
  const started = performance.now();
  try {
    let image;
    if (message.type === "bitmap") {
      image = pixelsOf(message.bitmap);
    } else if (message.type === "pixels") {
      image = {
        data: new Uint8ClampedArray(message.buffer),
        width: message.width,
        height: message.height,
      };
    } else {
      return;
    }
    const found = self.jsQR(image.data, image.width, image.height, OPTIONS);
    self.postMessage({
      type: "result",
      id: message.id,
      text: found ? found.data : null,
      ms: performance.now() - started,
    });
  } catch (error) {
    self.postMessage({ type: "error", id: message.id, message: String(error) });
  }
});

self.postMessage({ type: "ready" });
