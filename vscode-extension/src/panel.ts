// The preview panel as one state machine, whatever opened it (the palette command, the "Preview sample"
// lens, the panel's own controls, a save, trust granted): every event goes through `reduce`, and the
// page is drawn from the state alone. No `vscode` import: mocha tests it in plain Node.
//
//   empty --start--> running --result--> shown (a sample, or why it failed: result.ok false)
//                       |  \--cancelled--> cancelled
//                       \--start (another sample: the running one is cancelled first)--> running
//   shown / cancelled --start (navigate, save, trust granted, run again)--> running
//   any --result (a notification for a request nobody here started: another client, an old lens)--> shown
import { NavState, PanelStatus, PreviewResult, navState } from "./messages";

export interface PreviewRequest {
  uri: string;
  subset: string;
  sampleId: unknown; // null: the subset's first sample
}

export type PanelState =
  | { kind: "empty" }
  | { kind: "running"; request: PreviewRequest; progress?: string; last?: PreviewResult; nav?: NavState }
  | { kind: "shown"; request: PreviewRequest; result: PreviewResult; nav: NavState }
  | { kind: "cancelled"; request: PreviewRequest; last?: PreviewResult; nav?: NavState };

export type PanelEvent =
  | { type: "start"; request: PreviewRequest }
  | { type: "progress"; message: string }
  | { type: "result"; result: PreviewResult & { uri?: string } }
  | { type: "cancelled" }
  | { type: "error"; message: string };

function lastOf(state: PanelState): { last?: PreviewResult; nav?: NavState } {
  if (state.kind === "shown") return { last: state.result, nav: state.nav };
  if (state.kind === "running" || state.kind === "cancelled") return { last: state.last, nav: state.nav };
  return {};
}

/** Is `result` the answer to `request`? (The server resolves a null sample id to the subset's first.) */
export function answers(request: PreviewRequest, result: PreviewResult & { uri?: string }): boolean {
  if (result.uri !== undefined && result.uri !== request.uri) return false;
  if ((result.subset ?? request.subset) !== request.subset) return false;
  return request.sampleId === null || request.sampleId === undefined
    || String(request.sampleId) === String(result.sample_id);
}

export function reduce(state: PanelState, ev: PanelEvent): PanelState {
  switch (ev.type) {
    case "start":
      return { kind: "running", request: ev.request, ...lastOf(state) };
    case "progress":
      return state.kind === "running" ? { ...state, progress: ev.message } : state;
    case "cancelled":
      return state.kind === "running" ? { kind: "cancelled", request: state.request, last: state.last, nav: state.nav } : state;
    case "error": {
      if (state.kind !== "running") return state;
      const result: PreviewResult = { ok: false, subset: state.request.subset, sample_id: state.request.sampleId,
        message: ev.message, subsets: state.nav?.subsets ?? null };
      return { kind: "shown", request: state.request, result, nav: navState(result, state.nav) };
    }
    case "result": {
      const r = ev.result;
      if (state.kind === "running" && !answers(state.request, r)) return state; // a late answer to an older request
      if (r.cancelled) return reduce(state, { type: "cancelled" }); // not a failure of the sample
      const prev = lastOf(state).nav;
      const nav = navState(r, prev);
      // after a success the request is the sample shown; after a failure the same request (a save re-runs it)
      const asked = state.kind === "running" ? state.request.sampleId : r.sample_id ?? null;
      const request = { uri: r.uri ?? requestOf(state)?.uri ?? "", subset: nav.subset, sampleId: r.ok ? nav.sampleId : asked };
      return { kind: "shown", request, result: r, nav };
    }
  }
}

/** The request the panel's file and controls act on (its uri is where navigation and saves go). */
export function requestOf(state: PanelState): PreviewRequest | undefined {
  return state.kind === "empty" ? undefined : state.request;
}

/** What a save re-runs: the shown sample (or the failed request), never a request already running. */
export function onSave(state: PanelState): PreviewRequest | undefined {
  return state.kind === "shown" || state.kind === "cancelled" ? state.request : undefined;
}

/** What trust granted re-runs: a panel that said "not trusted". */
export function onTrust(state: PanelState): PreviewRequest | undefined {
  return state.kind === "shown" && state.result.reason?.kind === "untrusted" ? state.request : undefined;
}

/** A request for another sample or subset from the panel's controls. */
export function navigate(state: PanelState, subset: string, sampleId: unknown): PreviewRequest | undefined {
  const r = requestOf(state);
  return r ? { uri: r.uri, subset, sampleId } : undefined;
}

/** What the page shows for a state: the result (or the previous one, dimmed, while running) and the status. */
export function view(state: PanelState): { result: PreviewResult | null; nav?: NavState; status?: PanelStatus } {
  const title = (r: PreviewRequest) => `${r.subset} ${r.sampleId === null || r.sampleId === undefined ? "first sample"
    : `sample ${JSON.stringify(r.sampleId)}`}`;
  switch (state.kind) {
    case "empty":
      return { result: null };
    case "shown":
      return { result: state.result, nav: state.nav };
    case "running": {
      // a previous failure is not shown under a new run: it would read as this run's result
      const last = state.last?.ok ? state.last : null;
      return { result: last, nav: state.nav, status: { kind: "running", title: title(state.request), progress: state.progress,
        previous: last !== null } };
    }
    case "cancelled":
      return { result: state.last?.ok ? state.last : null, nav: state.nav, status: { kind: "cancelled", title: title(state.request) } };
  }
}
