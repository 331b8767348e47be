// One way to talk to the server. Every request says which language the person reads (so error
// messages come back in it), every JSON error becomes an ApiError with the server's stable code,
// and "could not reach the server" is a different error (NetworkError), because the app treats it
// differently: keep working offline and show the banner, rather than report a failure.

import { getLang } from "./i18n.js";

/** The default time to wait for an answer before treating the server as unreachable. */
const TIMEOUT_MS = 15000;

/** Codes with which the server says "log in again" (no session, or one that expired or was revoked). */
export const SIGNED_OUT_CODES = new Set(["not_authenticated", "session_expired"]);

/** The server answered with an error. `code` is the stable code from {"error": {"code", "message"}}. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Array<{field?: string, message?: string}>} [detail] the server's reasons, if any
   */
  constructor(status, code, message, detail = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The server could not be reached (offline, DNS, timeout, connection refused). */
export class NetworkError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "NetworkError";
  }
}

/**
 * Whether the last request reached the server. A real request decides, not navigator.onLine
 * (which says "online" on a Wi-Fi without a route to the server). Listeners get `online`/`offline`
 * window events named "xunjian:network" with detail {online: boolean}.
 */
let reachable = true;

function setReachable(value) {
  if (value === reachable) return;
  reachable = value;
  window.dispatchEvent(new CustomEvent("xunjian:network", { detail: { online: value } }));
}

export function isReachable() {
  return reachable;
}

/**
 * @param {string} path  e.g. "/api/me"
 * @param {{method?: string, body?: unknown, timeoutMs?: number}} [options]  a Blob body (a photo)
 *   is sent as it is, with its own type; anything else as JSON
 * @returns {Promise<any>} the parsed JSON body, or null for an empty reply (204)
 */
export async function api(path, { method = "GET", body, timeoutMs = TIMEOUT_MS } = {}) {
  const headers = { Accept: "application/json", "Accept-Language": getLang() };
  const raw = body instanceof Blob;
  if (raw) headers["Content-Type"] = body.type || "application/octet-stream";
  else if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: raw || body === undefined ? body : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch (error) {
    // fetch only rejects when no HTTP answer arrived at all (or on our timeout's abort).
    setReachable(false);
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
  }
  setReachable(true);

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null; // e.g. an HTML error page from a proxy in front of the server
    }
  }
  if (response.ok) return data;

  const error = data && typeof data === "object" ? data.error : null;
  const apiError = new ApiError(
    response.status,
    error && typeof error.code === "string" ? error.code : `http_${response.status}`,
    error && typeof error.message === "string" ? error.message : "",
    error && Array.isArray(error.detail) ? error.detail : [],
  );
  if (SIGNED_OUT_CODES.has(apiError.code)) {
    window.dispatchEvent(new CustomEvent("xunjian:unauthenticated"));
  }
  throw apiError;
}

/**
 * Fetch a file (a PDF of labels, say) and hand it to the browser as a download. Errors are thrown
 * like api()'s, so a refusal is shown in the person's language instead of saving an error body.
 * @returns {Promise<string>} the file name
 */
export async function downloadFile(path, { method = "GET", fallbackName = "download" } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { "Accept-Language": getLang() },
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    setReachable(false);
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
  setReachable(true);
  if (!response.ok) {
    let error = null;
    try {
      error = (await response.json()).error;
    } catch {
      error = null;
    }
    throw new ApiError(response.status, error?.code || `http_${response.status}`, error?.message || "");
  }
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
  return name;
}

/** Ask the server whether it is reachable now (used when the phone says it is back online). */
export async function checkReachable() {
  try {
    await api("/healthz", { timeoutMs: 5000 });
    return true;
  } catch (error) {
    return !(error instanceof NetworkError);
  }
}
