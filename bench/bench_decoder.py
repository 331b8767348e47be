"""How long the scanner's QR decoders take per camera frame in headless Chromium.

A label QR (a real-shaped label URL) on a grey wall, at 640×480 and 1280×720, plus a frame with no
code at all (what the scanner sees most of the time). Each decoder runs ITERATIONS times per frame
on the page's main thread (the app runs jsQR in a worker; the work per frame is the same). The
baseline is a plain getImageData plus a loop that reads every pixel of the same frame, measured in
the same run, so the ratio says how many "touch every pixel once" passes a decode costs.

    .venv/bin/python bench/bench_decoder.py [--iterations 30]

Prints a markdown table. Needs /usr/bin/chromium, Playwright, qrcode, Pillow and node_modules
(jsqr, zxing-wasm); serves them itself from a throwaway local HTTP server.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LABEL = "https://xunjian.example.org/c/1-12-HY03?v=1&s=Q2xhYmVsc2ln"
GREY = 128
SIZES = ((640, 480), (1280, 720))

PAGE = """<!doctype html><meta charset="utf-8"><title>decoder bench</title>
<script src="/vendor/jsqr/dist/jsQR.js"></script>
<script type="module">
import { prepareZXingModule, readBarcodes }
  from "/vendor/zxing-wasm/dist/es/reader/index.js";

prepareZXingModule({
  overrides: {
    locateFile: (path, prefix) =>
      path.endsWith(".wasm") ? "/vendor/zxing-wasm/dist/reader/zxing_reader.wasm" : prefix + path,
  },
});

async function pixels(src) {
  const image = new Image();
  image.src = src;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(image, 0, 0);
  return context;
}

async function times(n, fn) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up (JIT, caches): not counted
  const out = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    out.push(performance.now() - start);
  }
  return out;
}

window.bench = async (src, n) => {
  const context = await pixels(src);
  const { width, height } = context.canvas;
  const frame = context.getImageData(0, 0, width, height);
  const results = {};
  let sink = 0;
  results.baseline = await times(n, () => {
    const data = context.getImageData(0, 0, width, height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i];
    sink += sum;
  });
  const found = {};
  results.jsqr = await times(n, () => {
    found.jsqr = jsQR(frame.data, width, height, { inversionAttempts: "dontInvert" })?.data ?? null;
  });
  results.jsqr_both = await times(n, () => {
    found.jsqr_both = jsQR(frame.data, width, height, { inversionAttempts: "attemptBoth" })?.data ?? null;
  });
  const options = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
  await readBarcodes(frame, options); // loads and compiles the wasm: not part of a frame's cost
  results.zxing = await times(n, async () => {
    const codes = await readBarcodes(frame, options);
    found.zxing = codes.length ? codes[0].text : null;
  });
  return { results, found, sink };
};
window.benchReady = true;
</script>"""


def label_frame(size: tuple[int, int], with_code: bool = True) -> bytes:
    frame = Image.new("L", size, GREY)
    if with_code:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
        qr.add_data(LABEL)
        code = qr.make_image().get_image().convert("L")
        label = Image.new("L", (code.width + 40, code.height + 70), 255)
        label.paste(code, (20, 20))
        ImageDraw.Draw(label).rectangle(
            (20, code.height + 30, code.width + 20, code.height + 50), fill=90
        )
        frame.paste(label, ((size[0] - label.width) // 2, (size[1] - label.height) // 2))
    out = io.BytesIO()
    frame.convert("RGB").save(out, "PNG")
    return out.getvalue()


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".wasm": "application/wasm",
    }

    def translate_path(self, path):
        path = path.split("?", 1)[0]
        if path.startswith("/vendor/"):
            return str(ROOT / "node_modules" / path.removeprefix("/vendor/"))
        return super().translate_path(path)

    def do_GET(self):
        if self.path in ("/", "/bench.html"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.benchReady === true")
            cases = [(size, True) for size in SIZES] + [(SIZES[-1], False)]
            for size, with_code in cases:
                src = (
                    "data:image/png;base64,"
                    + base64.b64encode(label_frame(size, with_code)).decode()
                )
                out = page.evaluate("([src, n]) => window.bench(src, n)", [src, args.iterations])
                medians = {name: statistics.median(v) for name, v in out["results"].items()}
                for name, value in out["found"].items():
                    expected = LABEL if with_code else None
                    assert value == expected, (
                        f"{name} read {value!r} at {size}, wanted {expected!r}"
                    )
                rows.append((size, with_code, medians))
            browser.close()
    finally:
        server.shutdown()

    print(
        f"Decode time per frame, median of {args.iterations} after 3 warm-up runs, headless "
        f"Chromium ({json.dumps(CHROMIUM)}), main thread, one label QR on a grey wall.\n"
    )
    print(
        "| frame | code in view | baseline getImageData + pixel loop (ms) | jsQR dontInvert (ms) "
        "| ×baseline | jsQR attemptBoth (ms) | zxing-wasm readBarcodes (ms) | ×baseline |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (width, height), with_code, m in rows:
        base = m["baseline"]
        print(
            f"| {width}×{height} | {'yes' if with_code else 'no'} | {base:.2f} | {m['jsqr']:.1f} "
            f"| {m['jsqr'] / base:.1f} | {m['jsqr_both']:.1f} | {m['zxing']:.1f} "
            f"| {m['zxing'] / base:.1f} |"
        )


if __name__ == "__main__":
    main()
