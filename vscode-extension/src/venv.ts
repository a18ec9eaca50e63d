// Project interpreters that appear after the server started (pure logic, testable in Node): which file
// events matter, and whether the project interpreter the extension would choose now differs from the
// one the running server was given.
import { ProjectChoice } from "./interpreter";

/** The files whose creation or removal changes the project interpreter (relative to a workspace folder). */
export const VENV_PATTERN = "{.venv,venv}/pyvenv.cfg";

/** What the server is told: the chosen interpreter, or null when there is none of the project's own (the
 *  server then looks for the project's .venv/venv itself, at each run, and says when there is none). */
export function interpreterSetting(project: Pick<ProjectChoice, "path" | "source"> | undefined): string | null {
  return !project || project.source === "server" ? null : project.path;
}

/** A venv appeared or went away: restart when the choice changes (a .venv created after the start). */
export function choiceChanged(before: Pick<ProjectChoice, "path" | "source"> | undefined,
  after: Pick<ProjectChoice, "path" | "source">): boolean {
  return !before || before.path !== after.path || before.source !== after.source;
}

/** The interpreters offered by Select Interpreter without the Python extension: the project's venvs first,
 *  then those on PATH; each once. */
export function interpreterPicks(venvs: string[], onPath: string[]): string[] {
  return [...new Set([...venvs, ...onPath])];
}
