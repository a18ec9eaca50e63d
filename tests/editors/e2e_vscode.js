// End-to-end in a real VS Code (code-server) driven by playwright-core and Debian chromium.
// Scenarios, each with screenshots in $SHOTS and assertions on what the user sees:
//  1. main workspace (started by scripts/editor_tests.sh): TL213 in the Problems panel, the quick fix,
//     a preview with an image; a non-existent sample shows the reason in the panel and recovers;
//     a float64 encoder is one diagnostic (TL504, no TL523), named in the panel with its function,
//     withdrawn when the encoder changes, and the panel recovers after the fix is saved.
//  2. an interpreter without code-loader: one message with the pip install line, and a quiet restart.
//  3. an empty folder: Tensorleap: New Project, then checks that pass.
//  4. an untrusted folder: static diagnostics, "Manage Workspace Trust" offered once, no
//     "last run failed", no Preview lens.
//  5. the Extensions view shows the extension's README with its images; the walkthrough opens.
//  6. debug: a breakpoint in the encoder, the "Debug sample" lens, the editor paused there, continue, the end.
//  7. testing: the Testing view runs one binding, its planted failure shows at its line; fixed, re-run green.
//  8. scan: Tensorleap: Scan Data Set on the main workspace: the report panel draws the metadata histograms and
//     value counts (Vega-Lite), and a sample id in it opens that sample's preview.
//  9. slips: a clean project, two slips typed (a misspelled decorator, a misspelled call in the integration
//     test), each an error at the typed line with "did you mean", fixed by its quick fix; the Problems panel clears.
// Exit code 0 = pass.
const { chromium } = require("playwright-core");
const { execFileSync, spawn } = require("child_process");
const fs = require("fs");
const path = require("path");
const net = require("net");

const URL = process.env.CS_URL;
const SHOTS = process.env.SHOTS || ".";
const CS_BIN = process.env.CS_BIN;
const W = process.env.E2E_DIR;
const REPO = process.env.REPO;
const WS = process.env.WS_DIR;
const t0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeout = 60000, every = 250) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function command(page, title) {
  // the palette lists an extension's commands once the extensions are scanned: retry until then
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press("F1");
    await page.waitForSelector(".quick-input-widget .quick-input-box input");
    await page.keyboard.type(title);
    try {
      await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: title }).first().waitFor({ timeout: 10000 });
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
      await page.keyboard.press("Escape");
    }
  }
  await page.keyboard.press("Enter");
}

async function openFile(page, name) {
  // keyboard shortcuts go to the workbench, not to a focused webview; quick open, else the Explorer
  const tab = page.locator(".tabs-container .tab.active").filter({ hasText: name });
  for (let attempt = 0; attempt < 3; attempt++) {
    const editor = page.locator(".monaco-editor .view-lines").first();
    if (await editor.count()) await editor.click();
    await page.keyboard.press("Control+P");
    try {
      await page.waitForSelector(".quick-input-widget .quick-input-box input", { timeout: 5000 });
      await page.keyboard.type(name);
      await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: name }).first().waitFor({ timeout: 10000 });
      await page.keyboard.press("Enter");
      await tab.waitFor({ timeout: 10000 });
      break;
    } catch (e) {
      await page.keyboard.press("Escape");
      const row = page.locator(".explorer-folders-view .monaco-list-row").filter({ hasText: name }).first();
      if (await row.count()) {
        await row.click();
        if (await tab.waitFor({ timeout: 10000 }).then(() => true, () => false)) break;
      }
      if (attempt === 2) throw e;
    }
  }
  await page.waitForSelector(".monaco-editor .view-lines");
}

/** The frame (webviews are two iframes deep) whose document holds `selector`. */
async function frameWith(page, selector, timeout = 90000) {
  return waitFor(`a webview with ${selector}`, async () => {
    for (const f of page.frames()) {
      if (await f.$(selector).catch(() => null)) return f;
    }
    return null;
  }, timeout);
}

async function frameText(page, selector, text, timeout = 90000) {
  return waitFor(`"${text}" in the webview`, async () => {
    for (const f of page.frames()) {
      const el = await f.$(selector).catch(() => null);
      if (el && (await el.innerText()).includes(text)) return f;
    }
    return null;
  }, timeout);
}

async function toasts(page) {
  return page.locator(".notifications-toasts .notification-toast-container").allInnerTexts();
}

async function statusBar(page) {
  return (await page.locator(".part.statusbar").first().innerText({ timeout: 5000 })).replace(/\s+/g, " ");
}

/** Moves the caret to the end of `line` (1-based) of the active editor. */
async function gotoLineEnd(page, line) {
  await page.keyboard.press("Control+G");
  await page.keyboard.type(String(line));
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
}

async function problemsText(page) {
  return (await page.locator(".markers-panel").first().innerText().catch(() => "")).replace(/\s+/g, " ");
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** A code-server of its own (user data, settings, trust) for one scenario; killed with its group. */
async function codeServer(name, folder, settings, trust = false) {
  const data = path.join(W, `data-${name}`);
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(path.join(data, "User"), { recursive: true });
  fs.writeFileSync(path.join(data, "User", "settings.json"), JSON.stringify({
    "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off", "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false, "workbench.tips.enabled": false, "files.hotExit": "off",
    "tensorleap.debounceMs": 50, "security.workspace.trust.enabled": trust, "git.openRepositoryInParentFolders": "never", "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "security.workspace.trust.startupPrompt": "never", ...settings }, null, 1));
  const port = await freePort();
  const args = ["--config", path.join(W, "config.yaml"), "--user-data-dir", data, "--extensions-dir", path.join(W, "exts"),
    "--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check"];
  if (!trust) args.push("--disable-workspace-trust");
  const proc = spawn(CS_BIN, [...args, folder], { detached: true, stdio: ["ignore", fs.openSync(path.join(SHOTS, `code-server-${name}.log`), "w"), "inherit"] });
  await waitFor("code-server /healthz", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60000, 500);
  return { url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`, settingsFile: path.join(data, "User", "settings.json"),
    stop: () => { try { process.kill(-proc.pid, "SIGTERM"); } catch { /* gone */ } } };
}

async function workbench(page, url) {
  await page.goto(url);
  await page.waitForSelector(".monaco-workbench .part.editor", { timeout: 90000 });
}

// --- 1. the main workspace ---------------------------------------------------------------------
async function mainScenario(page) {
  await workbench(page, URL);
  log("workbench loaded");
  await openFile(page, "visualizers.py");
  await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 90000 });
  await page.keyboard.press("Control+Shift+M");
  await page.locator(".markers-panel").getByText("LeapHorizontalBar").first().waitFor();
  await page.locator(".markers-panel").getByText("TL213").first().waitFor();
  log("Problems panel shows TL213");
  await page.screenshot({ path: `${SHOTS}/vscode-diagnostics.png` });
  await page.locator(".monaco-editor .view-lines").getByText("LeapHorizontalBar:").first().click();
  await page.keyboard.press("Control+.");
  await page.locator(".action-widget").getByText("Annotate the return type as LeapImage").waitFor();
  await page.screenshot({ path: `${SHOTS}/vscode-quickfix.png` });
  await page.keyboard.press("Enter");
  await page.waitForSelector(".monaco-editor .squiggly-error", { state: "detached", timeout: 30000 });
  log("quick fix applied, diagnostic gone");
  await page.keyboard.press("Control+S");
  await command(page, "Tensorleap: Preview Sample");
  await page.locator(".quick-input-list").getByText("training").waitFor();
  await page.keyboard.press("Enter");
  await page.waitForSelector(".quick-input-box input");
  await page.keyboard.press("Enter");
  await frameWith(page, "#preview img");
  log("preview webview shows an image");
  await page.screenshot({ path: `${SHOTS}/vscode-preview.png` });

  // a sample that does not exist: the reason in the panel, the project's subsets, then recovery
  await command(page, "Tensorleap: Preview Sample");
  const picks = await page.locator(".quick-input-list .monaco-list-row").allInnerTexts();
  if (picks.some((p) => p.includes("test"))) throw new Error(`the subset picker offers a subset the project lacks: ${picks}`);
  await page.locator(".quick-input-list").getByText("training").waitFor();
  await page.keyboard.press("Enter");
  await page.waitForSelector(".quick-input-box input");
  await page.keyboard.type("99999");
  await page.keyboard.press("Enter");
  let frame = await frameText(page, "#preview", "sample 99999 is not in the training subset");
  const options = await frame.locator("#subset option").allInnerTexts();
  if (options.join(",") !== "training,validation") throw new Error(`subset picker after a failure: ${options}`);
  if (await frame.locator("#next").isDisabled()) throw new Error("no way back to a sample after a failure");
  log("a missing sample: the reason is in the panel, the picker keeps the project's subsets");
  await page.screenshot({ path: `${SHOTS}/vscode-preview-missing-sample.png` });
  await frame.locator("#next").click();
  frame = await frameWith(page, "#preview img");
  if ((await frame.locator("#preview").innerText()).includes("Preview failed")) throw new Error("the panel did not recover");
  if (await frame.locator("#next").isDisabled()) throw new Error("next is disabled on the first sample");
  log("the panel recovered (first sample)");

  // a float64 encoder: one diagnostic after the run, the panel names the function; fixed on save
  await openFile(page, "encoders.py");
  await gotoLineEnd(page, 12);
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("64");
  await page.keyboard.press("Control+S");
  frame = await frameText(page, "#preview", "input_encoder()");
  const text = await frame.locator("#preview").innerText();
  for (const want of ["float64", "sample 0", "subset training", "encoders.py:11"]) {
    if (!text.includes(want)) throw new Error(`the panel does not show "${want}": ${text.slice(0, 800)}`);
  }
  log("float64: the panel names the function, the sample, the subset and links to the encoder");
  await page.screenshot({ path: `${SHOTS}/vscode-preview-float64.png` });
  await frame.locator("#nav").click(); // the panel has focus: commands still act on the integration
  await command(page, "Tensorleap: Run Integration Checks");
  await waitFor("TL504 in the Problems panel", async () => (await problemsText(page)).includes("TL504"), 120000);
  const problems = await problemsText(page);
  if (problems.includes("TL523") || problems.includes("TL223")) throw new Error(`more than one diagnostic for one mistake: ${problems}`);
  log("Run Integration Checks from the focused panel: one diagnostic (TL504), no TL523 / TL223 beside it");
  await page.screenshot({ path: `${SHOTS}/vscode-one-root-cause.png` });
  await page.locator(".monaco-editor .view-lines").first().click();
  await gotoLineEnd(page, 12);
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("32");
  await waitFor("TL504 withdrawn on edit", async () => !(await problemsText(page)).includes("TL504"), 30000);
  log("the edit of the encoder withdrew TL504 (before any save)");
  await page.keyboard.press("Control+S");
  await waitFor("the panel without problems", async () => {
    const f = await frameWith(page, "#preview img");
    return !(await f.locator("#preview").innerText()).includes("input_encoder()");
  });
  log("the panel recovered after the fix was saved");
  await page.screenshot({ path: `${SHOTS}/vscode-preview-recovered.png` });
  const bar = await statusBar(page);
  if (!/Tensorleap/.test(bar)) throw new Error(`no Tensorleap status item: ${bar}`);
  // the processes while this scenario's server and child run (editor_tests.sh checks which interpreters)
  require("fs").writeFileSync(`${process.env.E2E_DIR}/ps-main.txt`, require("child_process").execSync("ps -eo args").toString());
}

// --- 5. the Extensions view README with its images -------------------------------------------------------
async function readmeScenario(page) {
  const cs = await codeServer("readme", WS, {});
  try {
    await workbench(page, cs.url);
    await page.keyboard.press("Control+Shift+X");
    await page.waitForSelector(".extensions-viewlet .suggest-input-container");
    await page.locator(".extensions-viewlet .suggest-input-container").click();
    await page.keyboard.type("@installed Tensorleap");
    await page.locator(".extensions-viewlet .monaco-list-row").filter({ hasText: "Tensorleap Integration Tools" }).first().click();
    const readme = await frameText(page, "body", "Two interpreters", 60000);
    const loaded = await waitFor("README images loaded", async () => {
      const imgs = await readme.$$eval("img", (xs) => xs.map((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth })));
      if (imgs.length >= 3 && imgs.every((i) => i.w > 0)) return imgs;
      throw new Error(JSON.stringify(imgs));
    }, 30000);
    log(`the Extensions view README renders with ${loaded.length} images`);
    await page.screenshot({ path: `${SHOTS}/vscode-readme.png` });
    await command(page, "View: Close All Editors");
    await command(page, "Tensorleap: Getting Started");
    const walk = page.locator(".gettingStartedContainer");
    await walk.getByText("Get started with Tensorleap integrations").first().waitFor();
    for (const step of ["Open or create a project", "Pick an interpreter", "Run the integration checks", "Preview a sample"]) {
      await walk.getByText(step).first().waitFor();
    }
    log("the Getting Started walkthrough lists its four steps");
    await page.screenshot({ path: `${SHOTS}/vscode-walkthrough.png` });
  } finally {
    cs.stop();
  }
}

// --- 2. an interpreter without code-loader --------------------------------------------------------
async function bareInterpreterScenario(page) {
  // a bare venv with only the server's libraries (PyYAML, packaging): code-loader, numpy and Pillow are missing
  const bare = path.join(W, "bare");
  const py = path.join(REPO, ".venv", "bin", "python");
  if (!fs.existsSync(path.join(bare, "bin", "python"))) execFileSync(py, ["-m", "venv", "--without-pip", bare]);
  const only = path.join(W, "yaml-only");
  fs.rmSync(only, { recursive: true, force: true });
  for (const mod of ["yaml", "packaging"]) { // the server's own libraries (not bundled in the .vsix yet)
    const dir = execFileSync(py, ["-c", `import ${mod}, os; print(os.path.dirname(${mod}.__file__))`]).toString().trim();
    fs.cpSync(dir, path.join(only, mod), { recursive: true });
  }
  const site = execFileSync(path.join(bare, "bin", "python"), ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).toString().trim();
  fs.writeFileSync(path.join(site, "yaml_only.pth"), `${only}\n`);
  const ws = path.join(W, "ws-bare");
  fs.rmSync(ws, { recursive: true, force: true });
  fs.cpSync(path.join(REPO, "examples", "decorator_mnist"), ws, { recursive: true });
  const cs = await codeServer("bare", ws, { "tensorleap.interpreter": path.join(bare, "bin", "python") });
  try {
    await workbench(page, cs.url);
    await openFile(page, "leap_integration.py");
    await waitFor("the server running", async () => /Tensorleap/.test(await statusBar(page)) && !/not running|no interpreter|starting/.test(await statusBar(page)), 60000);
    // a restart the extension asks for is not a crash
    await command(page, "Tensorleap: Restart Server");
    await sleep(1000);
    await waitFor("the server restarted", async () => !/starting|not running/.test(await statusBar(page)), 60000);
    log("server restarted");
    await page.locator(".monaco-editor .view-lines").first().click();
    await command(page, "Tensorleap: Run Integration Checks");
    const msg = await waitFor("the install message", async () => (await toasts(page)).find((t) => t.includes("pip install")), 90000);
    if (!msg.includes(`${path.join(bare, "bin", "python")} -m pip install code-loader`)) throw new Error(`no install line: ${msg}`);
    if (!/Python 3\.11/.test(msg) || !msg.includes("cannot import code_loader")) throw new Error(`interpreter not named: ${msg}`);
    await sleep(1500);
    const all = (await toasts(page)).filter((t) => /Tensorleap|tensorleap/.test(t));
    if (all.length !== 1) throw new Error(`expected one message, got ${all.length}: ${JSON.stringify(all)}`);
    if (all.some((t) => t.includes("stopped"))) throw new Error("a planned restart showed a crash message");
    const buttons = await page.locator(".notifications-toasts .notification-toast").first().locator(".monaco-button").allInnerTexts();
    if (!buttons.includes("Open Terminal") || !buttons.some((b) => b === "Open Settings" || b === "Select Interpreter")) {
      throw new Error(`buttons: ${buttons}`);
    }
    log(`bare interpreter: one message with the install line and ${buttons.join(" / ")}`);
    await page.screenshot({ path: `${SHOTS}/vscode-bare-interpreter.png` });
    const bar = await statusBar(page);
    if (bar.includes("last run failed")) throw new Error(`status bar: ${bar}`);
  } finally {
    cs.stop();
  }
}

// --- 3. an empty folder becomes a project whose checks pass ------------------------------------------
async function newProjectScenario(page) {
  const empty = path.join(W, "empty");
  fs.rmSync(empty, { recursive: true, force: true });
  fs.mkdirSync(empty);
  const cs = await codeServer("empty", empty, { "tensorleap.interpreter": path.join(REPO, ".venv", "bin", "python") });
  try {
    await workbench(page, cs.url);
    await command(page, "Tensorleap: New Project");
    await page.locator(".tabs-container .tab.active").filter({ hasText: "leap_integration.py" }).waitFor({ timeout: 120000 });
    const note = await waitFor("the next-step message", async () => (await toasts(page)).find((t) => t.includes("new project")), 60000);
    if (!note.includes("code-loader 1.0.214") || !note.includes("ONNX")) throw new Error(`message: ${note}`);
    for (const f of ["leap.yaml", "requirements.txt", "leap_integration.py", "model/model.onnx"]) {
      if (!fs.existsSync(path.join(empty, f))) throw new Error(`${f} was not written`);
    }
    log("New Project wrote leap.yaml, requirements.txt, the entry and model/model.onnx, and opened the entry");
    await page.screenshot({ path: `${SHOTS}/vscode-new-project.png` });
    await page.locator(".monaco-editor .view-lines").first().click();
    await command(page, "Tensorleap: Run Integration Checks");
    await waitFor("the checks to pass", async () => (await toasts(page)).some((t) => t.includes("no problem found on real samples")), 180000);
    await page.keyboard.press("Control+Shift+M");
    const problems = await waitFor("the Problems panel", async () => problemsText(page), 10000);
    if (!/No problems have been detected/.test(problems)) throw new Error(`problems in the new project: ${problems}`);
    log("the new project's checks pass: no problem found on real samples, Problems panel empty");
    await page.screenshot({ path: `${SHOTS}/vscode-new-project-checks.png` });
  } finally {
    cs.stop();
  }
}

// --- 4. an untrusted folder ------------------------------------------------------------------------
async function untrustedScenario(page) {
  const cs = await codeServer("untrusted", WS, { "tensorleap.interpreter": path.join(REPO, ".venv", "bin", "python") }, true);
  try {
    await workbench(page, cs.url);
    await openFile(page, "encoders.py");
    await waitFor("static diagnostics", async () => /Tensorleap/.test(await statusBar(page)), 60000);
    await sleep(2000);
    const lenses = await page.locator(".monaco-editor .contentWidgets .codelens-decoration").allInnerTexts().catch(() => []);
    if (lenses.some((l) => l.includes("Preview sample"))) throw new Error(`Preview lens in an untrusted workspace: ${lenses}`);
    for (let i = 0; i < 2; i++) {
      await command(page, "Tensorleap: Run Integration Checks");
      await sleep(1500);
    }
    const all = (await toasts(page)).filter((t) => /trust/i.test(t));
    if (all.length !== 1 || !all[0].includes("Manage Workspace Trust")) throw new Error(`trust messages: ${JSON.stringify(all)}`);
    const bar = await statusBar(page);
    if (bar.includes("last run failed") || bar.includes("checks running")) throw new Error(`status bar: ${bar}`);
    log("untrusted: one message with Manage Workspace Trust, no Preview lens, no 'last run failed'");
    await page.screenshot({ path: `${SHOTS}/vscode-untrusted.png` });
  } finally {
    cs.stop();
  }
}

/** A copy of the decorator example for one scenario, with the project interpreter set. */
async function exampleServer(name, edit) {
  const ws = path.join(W, `ws-${name}`);
  fs.rmSync(ws, { recursive: true, force: true });
  fs.cpSync(path.join(REPO, "examples", "decorator_mnist"), ws, { recursive: true });
  if (edit) edit(ws);
  const cs = await codeServer(name, ws, { "tensorleap.interpreter": path.join(REPO, ".venv", "bin", "python") });
  return { ws, cs };
}

// --- 6. debug one sample ------------------------------------------------------------------------------
async function debugScenario(page) {
  const { cs } = await exampleServer("debug");
  try {
    await workbench(page, cs.url);
    await openFile(page, "encoders.py");
    const lens = page.locator(".monaco-editor .codelens-decoration a").filter({ hasText: "Debug sample" }).first();
    await lens.waitFor({ timeout: 90000 });
    await gotoLineEnd(page, 12); // input_encoder's return line
    await page.keyboard.press("F9");
    await page.locator(".monaco-editor .codicon-debug-breakpoint").first().waitFor();
    await lens.click();
    await page.locator(".monaco-editor .codicon-debug-stackframe").first().waitFor({ timeout: 120000 });
    const stack = await waitFor("the call stack paused in input_encoder", async () => {
      const t = await page.locator(".part.sidebar").first().innerText().catch(() => "");
      return /input_encoder/.test(t) && /paused on breakpoint/i.test(t) && !/debug\.py/.test(t) ? t : null;
    }, 30000);
    await waitFor("the encoder's locals with the sample id", async () =>
      /idx\s*[:=]\s*0\b/.test(await page.locator(".part.sidebar").first().innerText().catch(() => "")), 30000);
    log(`paused at the breakpoint in the encoder, idx = 0 in its locals: ${stack.replace(/\s+/g, " ").slice(0, 120)}`);
    await page.screenshot({ path: `${SHOTS}/vscode-debug-paused.png` });
    await page.locator(".debug-toolbar .codicon-debug-continue").first().click();
    await page.locator(".debug-toolbar").first().waitFor({ state: "hidden", timeout: 60000 });
    log("continued: the sample ran to its end and the session ended");
  } finally {
    cs.stop();
  }
}

// --- 7. the Testing view --------------------------------------------------------------------------------
async function testingScenario(page) {
  const { cs } = await exampleServer("testing", (dir) => {
    const enc = path.join(dir, "mnist_tl", "encoders.py");
    fs.writeFileSync(enc, fs.readFileSync(enc, "utf8").replace(".astype(np.float32)", ".astype(np.float64)"));
  });
  try {
    await workbench(page, cs.url);
    await openFile(page, "encoders.py");
    await command(page, "View: Show Testing");
    const row = (text) => page.locator(".test-explorer .monaco-list-row").filter({ hasText: text }).first();
    await row("Inputs").waitFor({ timeout: 90000 });
    await row("Inputs").click();
    await page.keyboard.press("ArrowRight");
    const encoder = row("input_encoder");
    await encoder.waitFor();
    await encoder.hover();
    await encoder.locator(".action-label.codicon-testing-run-icon").click();
    await encoder.locator(".codicon-testing-failed-icon").waitFor({ timeout: 120000 });
    // the failure's message is shown on the encoder's `def` line (VS Code's test error widget)
    const widget = page.locator(".monaco-editor .test-error-content-widget").filter({ hasText: "TL504" }).first();
    await widget.waitFor({ timeout: 30000 });
    const wb = await widget.boundingBox();
    const lb = await page.locator(".monaco-editor .view-line").filter({ hasText: "def input_encoder" }).first().boundingBox();
    if (Math.abs(wb.y + wb.height / 2 - (lb.y + lb.height / 2)) > lb.height) {
      throw new Error(`the failure is not at the encoder's line: widget at y=${wb.y}, def line at y=${lb.y}`);
    }
    log("one binding ran: its float64 failure (TL504) shows at `def input_encoder`");
    await page.screenshot({ path: `${SHOTS}/vscode-testing.png` });
    // the fix typed in the editor and saved, then Rerun Failed Tests: green
    await page.keyboard.press("Escape");
    await page.locator(".monaco-editor .view-lines").first().click();
    await gotoLineEnd(page, 12);
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Backspace");
    await page.keyboard.type("32");
    await page.keyboard.press("Control+S");
    await command(page, "Test: Rerun Failed Tests");
    await encoder.locator(".codicon-testing-passed-icon").waitFor({ timeout: 120000 });
    log("fixed and re-run: the binding passes");
    await page.screenshot({ path: `${SHOTS}/vscode-testing-green.png` });
  } finally {
    cs.stop();
  }
}

// --- 8. the data-set scan, in the main workspace --------------------------------------------------------
async function scanScenario(page) {
  // the main scenario fixes the workspace's planted TL213 with its quick fix; alone, this one fixes it on disk
  const viz = path.join(WS, "mnist_tl", "visualizers.py");
  const planted = "def image_visualizer(image: np.ndarray) -> LeapHorizontalBar:";
  fs.writeFileSync(viz, fs.readFileSync(viz, "utf8").replace(planted, "def image_visualizer(image: np.ndarray) -> LeapImage:"));
  await workbench(page, URL);
  await openFile(page, "leap_integration.py");
  await command(page, "Tensorleap: Scan Data Set");
  const frame = await frameWith(page, "#scan svg.marks", 180000);
  await waitFor("every chart drawn", async () => {
    const specs = JSON.parse(await frame.locator("#specs").textContent());
    const drawn = await frame.locator("#scan svg.marks").count();
    return specs.length >= 4 && drawn === specs.length;
  });
  const text = await frame.locator("#scan").innerText();
  for (const want of ["80 samples", "training: 60 samples", "validation: 20 samples", "metadata stats_brightness",
                      "metadata label", "ground truth classes: class balance"]) {
    if (!text.includes(want)) throw new Error(`the scan panel lacks "${want}": ${text.slice(0, 600)}`);
  }
  // a histogram (binned bars) and value counts, drawn as SVG marks
  const bars = await frame.locator("#scan svg.marks .mark-rect path").count();
  if (bars < 10) throw new Error(`only ${bars} bars drawn`);
  if (await frame.locator("text=chart failed").count()) throw new Error("a chart failed to draw");
  log(`scan panel: ${await frame.locator("#scan svg.marks").count()} charts, ${bars} bars`);
  await page.screenshot({ path: `${SHOTS}/vscode-scan.png` });
  await frame.locator(".sample.link").first().click(); // a slowest sample: its preview
  await frameWith(page, "#preview img");
  log("a sample of the report opens its preview");
}

// --- 9. two slips typed in a clean project: each at its line, fixed by its quick fix ----------------------
/** The Problems panel rows (the panel opened), without the panel's own chrome. */
async function problemRows(page) {
  return page.locator(".markers-panel .monaco-list-row").allInnerTexts();
}

/** Types a slip (deletes the character at `col` of `line`, 1-based), then waits for the squiggle at that line. */
async function typeSlip(page, line, col, code) {
  await page.keyboard.press("Control+G");
  await page.keyboard.type(`${line}:${col}`);
  await page.keyboard.press("Enter");
  const typed = Date.now();
  await page.keyboard.press("Delete");
  const row = await waitFor(`${code} at line ${line}`, async () => (await problemRows(page)).find(
    (r) => r.includes(code) && r.includes(`[Ln ${line},`)), 15000, 50);
  const ms = Date.now() - typed;
  await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 5000 });
  log(`${code} at line ${line} ${ms} ms after the keystroke: ${row.replace(/\s+/g, " ").slice(0, 160)}`);
  return row;
}

async function applyQuickFix(page, title) {
  await page.keyboard.press("Control+."); // the caret is still in the slip's name
  await page.locator(".action-widget .monaco-list-row.focused").filter({ hasText: title }).first().waitFor();
  await page.keyboard.press("Enter"); // the preferred fix is the first, focused one
}

async function slipsScenario(page) {
  const { cs } = await exampleServer("slips");
  try {
    await workbench(page, cs.url);
    await openFile(page, "encoders.py");
    await page.keyboard.press("Control+Shift+M");
    await waitFor("the clean project", async () => /No problems have been detected/.test(await problemsText(page)), 90000);
    await waitFor("the server", async () => /Tensorleap/.test(await statusBar(page)), 60000);
    // the project's start-up work (the model file read in the project interpreter, the warm child) is done
    // when the preview lenses show: from then on an edit is analysed at the usual latency
    await page.locator(".monaco-editor .codelens-decoration").filter({ hasText: "Preview sample" }).first()
      .waitFor({ timeout: 120000 });

    // 1. a misspelled decorator: `@tensorleap_input_encodr(...)` (line 10: the "e" at column 24 deleted)
    await page.locator(".monaco-editor .view-lines").first().click();
    const decorator = await typeSlip(page, 10, 24, "TL113");
    if (!decorator.includes("did you mean `tensorleap_input_encoder`")) throw new Error(`no did-you-mean: ${decorator}`);
    const rows = await problemRows(page);
    if (rows.some((r) => r.includes("TL102") || r.includes("TL303"))) throw new Error(`not one root cause: ${rows}`);
    await page.screenshot({ path: `${SHOTS}/vscode-slip-decorator.png` });
    await applyQuickFix(page, "Use `tensorleap_input_encoder`");
    await waitFor("the Problems panel clear", async () => /No problems have been detected/.test(await problemsText(page)), 30000);
    log("the quick fix restored the decorator; the Problems panel is clear");
    await page.screenshot({ path: `${SHOTS}/vscode-slip-decorator-fixed.png` });

    // 2. a misspelled call in the integration test: `gt_encodr(idx, preprocess)` (line 43: the "e" at column 18 deleted)
    await openFile(page, "leap_integration.py");
    await page.locator(".monaco-editor .view-lines").first().click();
    const call = await typeSlip(page, 43, 18, "TL114");
    if (!call.includes("did you mean `gt_encoder`")) throw new Error(`no did-you-mean: ${call}`);
    await page.screenshot({ path: `${SHOTS}/vscode-slip-call.png` });
    await applyQuickFix(page, "Use `gt_encoder`");
    await waitFor("the Problems panel clear", async () => /No problems have been detected/.test(await problemsText(page)), 30000);
    log("the quick fix restored the call; the Problems panel is clear");
    await page.screenshot({ path: `${SHOTS}/vscode-slip-call-fixed.png` });
  } finally {
    cs.stop();
  }
}

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"] });
  const only = (process.env.E2E_ONLY || "main,bare,empty,untrusted,readme,debug,testing,scan,slips").split(",");
  const scenarios = [["main", mainScenario], ["bare", bareInterpreterScenario], ["empty", newProjectScenario],
                     ["untrusted", untrustedScenario], ["readme", readmeScenario], ["debug", debugScenario],
                     ["testing", testingScenario], ["scan", scanScenario], ["slips", slipsScenario]]
    .filter(([n]) => only.includes(n));
  for (const [name, run] of scenarios) {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    page.setDefaultTimeout(60000);
    try {
      log(`scenario ${name}`);
      await run(page);
    } catch (e) {
      await page.screenshot({ path: `${SHOTS}/vscode-fail-${name}.png` }).catch(() => {});
      console.error(`E2E FAIL (${name})`, e);
      process.exitCode = 1;
    } finally {
      await page.close();
    }
  }
  await browser.close();
  if (!process.exitCode) console.log("E2E PASS");
})();
