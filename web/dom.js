// A tiny element builder. Text always goes in as text nodes (never innerHTML), so names and codes
// from the server or from a scanned label cannot inject markup.

/**
 * h("button", {class: "btn", "data-testid": "x", onclick: fn}, "text", childNode, [more, children])
 * Attributes: `class`, `on<event>` handlers, booleans (true → present, false/null → absent),
 * everything else set with setAttribute.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children  strings, numbers, Nodes, arrays of those, or null/false to skip
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A short message near the bottom of the screen that goes by itself after 4 s. */
export function toast(text) {
  const el = h("div", { class: "toast", role: "status", "data-testid": "toast" }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}
