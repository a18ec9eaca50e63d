// Runs inside the scan report panel (bundled for the browser by esbuild, vega-embed and Vega included): draws
// each chart's Vega-Lite spec with the CSP-safe expression interpreter (no eval), and turns every sample id
// into a Preview link (and a Debug one when the extension has a debugger for one sample).
import embed from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscode = acquireVsCodeApi();
const specs = JSON.parse(document.getElementById("specs")?.textContent || "[]") as object[];

document.querySelectorAll<HTMLElement>("[data-chart]").forEach((el, i) => {
  embed(el, specs[i] as never, { actions: false, renderer: "svg", ast: true, expr: expressionInterpreter })
    .catch((e: unknown) => { el.textContent = `chart failed: ${e}`; });
});

const debug = document.body.dataset.debug === "1";
document.querySelectorAll<HTMLElement>(".sample[data-subset]").forEach((el) => {
  const subset = el.dataset.subset as string;
  const sampleId = JSON.parse(el.dataset.sample ?? "null");
  el.classList.add("link");
  el.title = `Preview ${subset} sample ${el.textContent}`;
  el.addEventListener("click", () => vscode.postMessage({ type: "preview", subset, sampleId }));
  if (debug) {
    const a = document.createElement("a");
    a.href = "#";
    a.className = "debug";
    a.textContent = "debug";
    a.addEventListener("click", (e) => { e.preventDefault(); vscode.postMessage({ type: "debug", subset, sampleId }); });
    el.after(a);
  }
});

document.getElementById("open-report")?.addEventListener("click", (e) => {
  e.preventDefault();
  vscode.postMessage({ type: "openReport" });
});
