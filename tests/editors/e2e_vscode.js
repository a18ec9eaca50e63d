// End-to-end in a real VS Code (code-server) driven by playwright-core and Debian chromium.
// Opens a fixture integration, waits for a Tensorleap diagnostic in the Problems panel, applies the
// quick fix, sees the diagnostic go, runs "Tensorleap: Preview Sample" and finds an image in the
// preview webview. Screenshots go to $SHOTS. Exit code 0 = pass.
const { chromium } = require("playwright-core");
const URL = process.env.CS_URL;
const SHOTS = process.env.SHOTS || ".";
const t0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"] });
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  page.setDefaultTimeout(60000);
  try {
    await page.goto(URL);
    await page.waitForSelector(".monaco-workbench .part.editor", { timeout: 90000 });
    log("workbench loaded");
    await page.keyboard.press("Control+P");
    await page.keyboard.type("visualizers.py");
    await page.waitForSelector(".quick-input-list .monaco-list-row");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".monaco-editor .view-lines");
    log("file opened");
    await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 90000 });
    log("squiggle visible");
    await page.keyboard.press("Control+Shift+M");
    await page.locator(".markers-panel").getByText("LeapHorizontalBar").first().waitFor();
    await page.locator(".markers-panel").getByText("TL213").first().waitFor();
    log("Problems panel shows TL213");
    await page.screenshot({ path: `${SHOTS}/vscode-diagnostics.png` });
    // caret on the wrong annotation, then Ctrl+. and the preferred fix
    await page.locator(".monaco-editor .view-lines").getByText("LeapHorizontalBar:").first().click();
    await page.keyboard.press("Control+.");
    await page.locator(".action-widget").getByText("Annotate the return type as LeapImage").waitFor();
    await page.screenshot({ path: `${SHOTS}/vscode-quickfix.png` });
    await page.keyboard.press("Enter");
    await page.waitForSelector(".monaco-editor .squiggly-error", { state: "detached", timeout: 30000 });
    log("quick fix applied, diagnostic gone");
    await page.keyboard.press("Control+S");
    // preview through the command palette: subset pick, then the first sample
    await page.keyboard.press("F1");
    await page.keyboard.type("Tensorleap: Preview Sample");
    await page.waitForSelector(".quick-input-list .monaco-list-row");
    await page.keyboard.press("Enter");
    await page.locator(".quick-input-list").getByText("training").waitFor();
    await page.keyboard.press("Enter");
    await page.waitForSelector(".quick-input-box input");
    await page.keyboard.press("Enter");
    const frame = page.frameLocator("iframe.webview.ready").frameLocator("iframe#active-frame");
    await frame.locator("#preview img").first().waitFor({ timeout: 90000 });
    log("preview webview shows an image");
    await page.screenshot({ path: `${SHOTS}/vscode-preview.png` });
    console.log("E2E PASS");
  } catch (e) {
    await page.screenshot({ path: `${SHOTS}/vscode-fail.png` }).catch(() => {});
    console.error("E2E FAIL", e);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
