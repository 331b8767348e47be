// Label printing (标签打印) for managers: pick building, floor and kind, download an A4 PDF of the
// QR labels to print and stick. The PDF is fetched as a file (not a plain link) so that a refusal —
// nothing selected, too many labels at once — is shown here in the person's language.

import { api, downloadFile, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const KINDS = ["facility", "vacant_unit", "signage", "renovation"];

/**
 * Run a label download behind `button`, telling the person in `status` how it goes: making the
 * labels, the file's name when done, or the server's reason (or "offline") when refused.
 * @param {() => Promise<string>} start resolves to the downloaded file's name
 */
export async function reportDownload(button, status, start) {
  button.disabled = true;
  status.className = "status";
  status.textContent = t("labels.rendering");
  try {
    status.textContent = t("labels.done", { name: await start() });
  } catch (error) {
    status.className = "status form-error";
    status.textContent = error instanceof NetworkError ? t("labels.offline") : error.message;
  } finally {
    button.disabled = false;
  }
}

function select(id, label, options, onchange) {
  const el = h("select", { class: "input", id, "data-testid": id, onchange },
    options.map(([value, text]) => h("option", { value }, text)));
  return { el, field: h("div", { class: "field" }, h("label", { class: "field-label", for: id }, label), el) };
}

/** @param {{site: {id: number, name: string} | null}} ctx */
export function render(ctx) {
  const screen = h("section", { class: "labels", "data-testid": "labels-screen" },
    h("h1", { class: "page-title" }, t("labels.title")));
  if (!ctx.site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  const status = h("p", { class: "status", role: "status", "aria-live": "polite",
    "data-testid": "labels-status" });
  const form = h("div", { class: "card labels-form" }, h("p", { class: "muted" }, t("labels.loading")));
  screen.append(h("p", { class: "muted" }, ctx.site.name), form, status);

  api(`/api/sites/${ctx.site.id}/buildings`).then(
    (buildings) => form.replaceChildren(...controls(ctx.site, buildings, status)),
    (error) => {
      form.replaceChildren(h("p", { class: "form-error", "data-testid": "labels-error" },
        error instanceof NetworkError ? t("labels.offline") : error.message));
    });
  return screen;
}

function controls(site, buildings, status) {
  const floor = select("labels-floor", t("labels.floor"), [["", t("labels.all_floors")]]);
  function fillFloors() {
    const chosen = buildings.find((b) => String(b.id) === building.el.value);
    floor.el.replaceChildren(h("option", { value: "" }, t("labels.all_floors")),
      ...(chosen ? chosen.floors : []).map((f) => h("option", { value: String(f.id) }, f.name)));
    floor.el.disabled = !chosen;
  }
  const building = select("labels-building", t("labels.building"),
    [["", t("labels.all_buildings")], ...buildings.map((b) => [String(b.id), b.name])], fillFloors);
  const kind = select("labels-kind", t("labels.kind"),
    [["", t("labels.all_kinds")], ...KINDS.map((k) => [k, t(`kind.${k}`)])]);
  const layout = select("labels-layout", t("labels.layout"),
    [["dense", t("labels.layout_dense")], ["plate", t("labels.layout_plate")]]);
  fillFloors();

  const button = h("button", { class: "btn btn-primary btn-block", type: "button",
    "data-testid": "labels-download", onclick: async () => {
      const query = new URLSearchParams({ layout: layout.el.value });
      if (building.el.value) query.set("building", building.el.value);
      if (floor.el.value) query.set("floor", floor.el.value);
      if (kind.el.value) query.set("kind", kind.el.value);
      await reportDownload(button, status,
        () => downloadFile(`/api/sites/${site.id}/labels.pdf?${query}`, { fallbackName: "labels.pdf" }));
    } }, t("labels.download"));
  return [building.field, floor.field, kind.field, layout.field, button];
}
