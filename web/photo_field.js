// The camera / gallery buttons and thumbnails of a form that takes photos (raising an order,
// reporting a result). Photos are prepared on the phone (web/photos.js) and kept in memory until
// the form is saved to the outbox; the same picture twice is kept once.

import { h } from "./dom.js";
import { PhotoError, preparePhoto } from "./photos.js";
import { t } from "./i18n.js";

/**
 * @param {{ testid: string, onStart?: () => void, onProblem: (key: string) => void }} options
 *   testid: prefix of the test ids (`<testid>-camera`, `<testid>-gallery`, `<testid>-photos`);
 *   onProblem gets the i18n key of what went wrong with a picture.
 * @returns {{ el: HTMLElement, photos: Array<{sha256: string, blob: Blob}>, busy: () => boolean,
 *   release: () => void }} release frees the thumbnails' object URLs once the form is done.
 */
export function photoField({ testid, onStart = () => {}, onProblem }) {
  const photos = [];
  const urls = new Map();
  let processing = 0;
  const thumbs = h("div", { class: "wo-thumbs", "data-testid": `${testid}-photos` });
  const working = h("p", { class: "muted", role: "status", hidden: true }, t("wo.form.photo_working"));

  function drawThumbs() {
    thumbs.replaceChildren(...photos.map((p) => {
      if (!urls.has(p.sha256)) urls.set(p.sha256, URL.createObjectURL(p.blob));
      return h("div", { class: "wo-thumb" }, h("img", { src: urls.get(p.sha256), alt: "" }),
        h("button", { type: "button", class: "wo-thumb-remove", "aria-label": t("wo.form.photo_remove"),
          onclick: () => {
            photos.splice(photos.indexOf(p), 1);
            drawThumbs();
          } }, "×"));
    }));
  }

  const picker = (capture) => {
    const input = h("input", { type: "file", accept: "image/*", class: "visually-hidden",
      capture: capture ? "environment" : null, multiple: capture ? null : true,
      "data-testid": `${testid}-${capture ? "camera" : "gallery"}`,
      onchange: async () => {
        const files = [...(input.files || [])];
        input.value = "";
        onStart();
        processing += 1;
        working.hidden = false;
        for (const file of files) {
          try {
            const photo = await preparePhoto(file);
            if (!photos.some((p) => p.sha256 === photo.sha256)) photos.push(photo);
          } catch (problem) {
            console.warn("photo not usable", problem);
            onProblem(problem instanceof PhotoError ? "wo.form.photo_bad" : "error.generic");
          }
        }
        processing -= 1;
        working.hidden = processing === 0;
        drawThumbs();
      } });
    return h("label", { class: `btn wo-photo-btn${capture ? "" : " wo-photo-gallery"}` }, input,
      t(capture ? "wo.form.take" : "wo.form.gallery"));
  };

  const el = h("div", { class: "wo-photo-field" },
    h("div", { class: "wo-photo-row" }, picker(true), picker(false)), working, thumbs);
  const release = () => {
    for (const url of urls.values()) URL.revokeObjectURL(url);
    urls.clear();
  };
  return { el, photos, busy: () => processing > 0, release };
}
