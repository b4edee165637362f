import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { ToolwatchError } from "../../core/errors.js";
import { PolicyEngine } from "./policy-engine.js";
import { parsePolicy } from "./policy-file.js";

/** Options of a `PolicyHolder`. */
export interface PolicyHolderOptions {
  /** A reload failed: `file:line:column: reason`. The engine in force stays. */
  onError?: (message: string) => void;
  /** A changed file was loaded and its engine is now in force. */
  onReload?: () => void;
  /** Watch the file and reload on change (default true). Without it, call `reload()` (on SIGHUP, say). */
  watch?: boolean;
  /** Quiet time after the last change before reloading, in ms (default 100): editors write in several steps. */
  debounce_ms?: number;
}

/**
 * Holds the policy engine in force and replaces it when the file changes. The directory is watched,
 * not the file, because editors replace files by renaming, which ends a watch on the file itself. A bad
 * file is rejected with its `file:line:column` reason and the old engine stays in force; rate-limit
 * state carries over to the new engine. Sessions are untouched: callers read `engine` on every call.
 */
export class PolicyHolder {
  private current: PolicyEngine;
  private lastText: string;
  private readonly file: string;
  private readonly options: PolicyHolderOptions;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** A bad text (or read error) seen once by the watcher and waiting for a second look. */
  private suspect: string | null = null;

  /** Loads `file`; throws a `ToolwatchError` (`config_invalid`) with `file:line:column: reason` when it is bad. */
  constructor(file: string, options: PolicyHolderOptions = {}) {
    this.file = file;
    this.options = options;
    const text = readText(file);
    if (!text.ok) throw new ToolwatchError("config_invalid", text.error);
    const parsed = parsePolicy(text.text, file);
    if (!parsed.ok) throw new ToolwatchError("config_invalid", parsed.error);
    this.current = new PolicyEngine(parsed.policy);
    this.lastText = text.text;
    if (options.watch ?? true) this.startWatching();
  }

  /** The engine in force. Read it per call rather than keeping it, so that reloads take effect. */
  get engine(): PolicyEngine {
    return this.current;
  }

  /**
   * Reads the file again now. Returns true when a changed, valid file was loaded; false when the
   * text is unchanged or bad (then `onError` has the reason and the old engine stays).
   */
  reload(): boolean {
    return this.load(false);
  }

  /**
   * With `confirmBad`, a bad or unreadable file is read once more after the debounce before it is
   * reported, since a watch event may land between an editor's truncate and its write.
   */
  private load(confirmBad: boolean): boolean {
    const read = readText(this.file);
    let failure: string;
    if (read.ok) {
      if (read.text === this.lastText) return false;
      const parsed = parsePolicy(read.text, this.file);
      if (parsed.ok) {
        this.current = new PolicyEngine(parsed.policy, { previous: this.current });
        this.lastText = read.text;
        this.suspect = null;
        this.options.onReload?.();
        return true;
      }
      failure = parsed.error;
    } else {
      failure = read.error;
    }
    const seen = read.ok ? read.text : read.error;
    if (confirmBad && seen !== this.suspect) {
      this.suspect = seen;
      this.schedule();
      return false;
    }
    this.suspect = null;
    // Remember the bad text so that one bad save is reported once, not on every later event.
    if (read.ok) this.lastText = read.text;
    this.options.onError?.(failure);
    return false;
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load(true);
    }, this.options.debounce_ms ?? 100);
    this.timer.unref();
  }

  /** Stops watching. Idempotent. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private startWatching(): void {
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      // Some platforms do not say which file changed: then any change in the directory may be ours.
      if (changed !== null && changed.toString() !== name) return;
      this.schedule();
    });
    this.watcher.on("error", (error) => this.options.onError?.(`${this.file}: watching stopped: ${error.message}`));
  }
}

function readText(file: string): { ok: true; text: string } | { ok: false; error: string } {
  try {
    return { ok: true, text: readFileSync(file, "utf8") };
  } catch (error) {
    return { ok: false, error: `${file}: cannot read the policy file: ${(error as Error).message}` };
  }
}
