// Photos taken on the phone, made ready to keep and to send: turned upright (the camera's EXIF
// orientation applied), scaled so the long edge is at most MAX_EDGE pixels, encoded as JPEG, and
// named by the SHA-256 of those bytes (the server stores and de-duplicates by that name).
//
// A 12 MP camera JPEG of 3-5 MB becomes a 1600 px JPEG of about 200-400 KB: enough to see a torn
// sign or a leaking valve, small enough to queue dozens offline and send over a weak signal.
// crypto.subtle exists only in secure contexts (https, or localhost while developing).

/** The long edge of a stored photo, in pixels. */
export const MAX_EDGE = 1600;
/** JPEG quality of a stored photo. */
export const QUALITY = 0.8;

/** The photo could not be read as an image (not a picture, or a format this browser cannot open). */
export class PhotoError extends Error {
  constructor(message) {
    super(message);
    this.name = "PhotoError";
  }
}

/**
 * @param {Blob} blob
 * @returns {Promise<string>} lowercase hex SHA-256 of the blob's bytes
 */
export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The size a width × height picture is drawn at so its long edge is at most MAX_EDGE. */
export function fitSize(width, height, maxEdge = MAX_EDGE) {
  const scale = Math.min(1, maxEdge / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/** Draw on a canvas (OffscreenCanvas where the browser has it) and encode as JPEG. */
async function encode(bitmap, width, height) {
  const draw = (context) => {
    // Transparent parts of a PNG would turn black in a JPEG: white underneath.
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, width, height);
  };
  if (typeof OffscreenCanvas === "function") {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (context) {
      draw(context);
      return canvas.convertToBlob({ type: "image/jpeg", quality: QUALITY });
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  if (!context) throw new PhotoError("no 2d canvas");
  draw(context);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  canvas.width = canvas.height = 0; // give the pixels back at once (phones are short of memory)
  if (!blob) throw new PhotoError("the photo could not be encoded");
  return blob;
}

/**
 * A picked or taken photo → what the phone keeps: {sha256, blob (image/jpeg), width, height}.
 * @param {Blob} file
 * @returns {Promise<{sha256: string, blob: Blob, width: number, height: number}>}
 */
export async function preparePhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {
    throw new PhotoError(error instanceof Error ? error.message : String(error));
  }
  try {
    const { width, height } = fitSize(bitmap.width, bitmap.height);
    const blob = await encode(bitmap, width, height);
    if (blob.type !== "image/jpeg") throw new PhotoError(`encoded as ${blob.type}, not JPEG`);
    return { sha256: await sha256Hex(blob), blob, width, height };
  } finally {
    bitmap.close();
  }
}
