import { isLsvmError } from '@lsvm/core';

/**
 * The step-by-step report of a boot-path flow (unlock, validate, dbx update). Every field is safe
 * to print or emit as JSON: no passphrase, volume key or unsealed byte ever goes in one.
 */

/** Outcome of one step: `skipped` when it did not apply (e.g. no specialization file). */
export type BootStepStatus = 'passed' | 'failed' | 'skipped';

/** One step of a flow. */
export interface BootStep {
  /** Stable identifier, e.g. `unseal`, `cap-pcr11`, `verify-shim`. */
  id: string;
  /** One line for humans. */
  title: string;
  status: BootStepStatus;
  /** What was found (paths, digests, UUIDs, counts) — never secrets. */
  detail?: Record<string, unknown>;
  /** The error when it failed: its stable code and message. */
  error?: { code: string; message: string };
  ms: number;
}

/** A whole flow's report. `ok` is true when no step failed. */
export interface BootReport {
  ok: boolean;
  steps: BootStep[];
}

/** Thrown inside a step to fail it with a finding rather than an exception from a library. */
export class BootStepFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * Collects steps. `run` times a step, records its detail, and turns LsvmErrors and StepFailures
 * into a failed step; any other exception is a bug and propagates.
 */
export class BootStepRecorder {
  readonly steps: BootStep[] = [];

  get ok(): boolean {
    return this.steps.every((s) => s.status !== 'failed');
  }

  report(): BootReport {
    return { ok: this.ok, steps: this.steps };
  }

  /** Records a step that did not run, with the reason. */
  skip(id: string, title: string, reason: string): void {
    this.steps.push({ id, title, status: 'skipped', detail: { reason }, ms: 0 });
  }

  /** Records a failed step without running anything (a precondition step failed). */
  fail(id: string, title: string, code: string, message: string): void {
    this.steps.push({ id, title, status: 'failed', error: { code, message }, ms: 0 });
  }

  /**
   * Runs a step. The function returns the step's detail (or `{ detail, status }` to mark it
   * skipped). Returns the function's value, or undefined when the step failed.
   */
  async run<T>(
    id: string,
    title: string,
    fn: () => Promise<{ value: T; detail?: Record<string, unknown>; status?: BootStepStatus }>,
  ): Promise<T | undefined> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.steps.push({
        id,
        title,
        status: r.status ?? 'passed',
        ...(r.detail ? { detail: r.detail } : {}),
        ms: Math.round(performance.now() - t0),
      });
      return r.value;
    } catch (e) {
      if (e instanceof BootStepFailure || isLsvmError(e)) {
        this.steps.push({
          id,
          title,
          status: 'failed',
          ...(e instanceof BootStepFailure && e.detail ? { detail: e.detail } : {}),
          error: { code: e.code, message: e.message },
          ms: Math.round(performance.now() - t0),
        });
        return undefined;
      }
      throw e;
    }
  }
}
