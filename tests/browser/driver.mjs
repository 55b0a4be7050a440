// Drives headless Chromium for the Python browser tests, with playwright-core.
//
// Protocol: one JSON object per line. The driver prints {"event": "ready"}
// once the page exists; then each request {"id": N, "cmd": ..., ...} gets one
// reply {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false,
// "error": "..."}. Requests run concurrently (a waitText may be pending while
// other commands go on). Page console output and errors go to stderr.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const executablePath = process.env.HOTLINE_CHROMIUM || "/usr/bin/chromium";
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run",
];
const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
const pageErrors = [];

let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true, args });
} catch (err) {
  send({ event: "failed", error: String(err && err.message ? err.message : err) });
  process.exit(2);
}
const context = await browser.newContext({
  locale: process.env.HOTLINE_BROWSER_LOCALE || "en-GB",
  viewport: { width: 1280, height: 1000 },
});
const page = await context.newPage();
page.on("console", (m) => process.stderr.write(`[console.${m.type()}] ${m.text()}\n`));
page.on("pageerror", (e) => { pageErrors.push(String(e)); process.stderr.write(`[pageerror] ${e}\n`); });

const commands = {
  goto: async ({ url }) => { await page.goto(url, { waitUntil: "load" }); return page.url(); },
  fill: async ({ selector, value }) => page.fill(selector, value),
  click: async ({ selector }) => page.click(selector),
  select: async ({ selector, value }) => page.selectOption(selector, value),
  text: async ({ selector }) => page.textContent(selector),
  value: async ({ selector }) => page.inputValue(selector),
  visible: async ({ selector }) => page.isVisible(selector),
  // Resolves with the page's clock (ms since the epoch) at the moment the
  // element is visible and its text contains `text`; polled every 10 ms.
  waitText: async ({ selector, text, timeout_ms }) => {
    const handle = await page.waitForFunction(
      ({ selector, text }) => {
        const el = document.querySelector(selector);
        const shown = el && el.offsetParent !== null && el.textContent.includes(text);
        return shown ? Date.now() : false;
      },
      { selector, text },
      { polling: 10, timeout: timeout_ms ?? 10000 },
    );
    return handle.jsonValue();
  },
  waitVisible: async ({ selector, timeout_ms }) => {
    await page.waitForSelector(selector, { state: "visible", timeout: timeout_ms ?? 10000 });
    return true;
  },
  waitHidden: async ({ selector, timeout_ms }) => {
    await page.waitForSelector(selector, { state: "hidden", timeout: timeout_ms ?? 10000 });
    return true;
  },
  screenshot: async ({ path, full_page }) => { await page.screenshot({ path, fullPage: full_page ?? true }); return path; },
  errors: async () => pageErrors,
  close: async () => { await browser.close(); return true; },
};

send({ event: "ready", browser: browser.version() });

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { send({ ok: false, error: "bad JSON request" }); return; }
  const run = commands[msg.cmd];
  if (!run) { send({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` }); return; }
  try {
    const result = await run(msg);
    send({ id: msg.id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    send({ id: msg.id, ok: false, error: String(err && err.message ? err.message : err) });
  }
  if (msg.cmd === "close") process.exit(0);
});
lines.on("close", async () => { await browser.close().catch(() => {}); process.exit(0); });
