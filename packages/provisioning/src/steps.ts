import { isLsvmError } from '@lsvm/core';

/**
 * Step reports of the long flows (protect, verify, provision): name, status, duration and
 * details. Details never hold a secret — only sizes, identifiers, paths and counts — so the CLI
 * can print them and `--json` can carry them as they are.
 */

/** `refused`: a check said no (signature, qualifier, changed blocks); `failed`: an error. */
export type StepStatus = 'ok' | 'refused' | 'failed' | 'skipped';

/** One step. */
export interface StepReport {
  step: string;
  status: StepStatus;
  durationMs: number;
  details: Record<string, unknown>;
  /** Present when the step did not succeed. */
  error?: { code: string; message: string };
}

/** Collects step reports and forwards each to a listener as it ends. */
export class StepRecorder {
  readonly steps: StepReport[] = [];

  constructor(private readonly onStep?: (s: StepReport) => void) {}

  /** Runs `fn` as step `name`; its `details` object ends up in the report, also on failure. */
  async run<T>(name: string, fn: (details: Record<string, unknown>) => Promise<T>): Promise<T> {
    const details: Record<string, unknown> = {};
    const t0 = performance.now();
    try {
      const r = await fn(details);
      this.push({ step: name, status: 'ok', durationMs: ms(t0), details });
      return r;
    } catch (e) {
      const refused = isLsvmError(e) && e.kind === 'verification';
      this.push({
        step: name,
        status: refused ? 'refused' : 'failed',
        durationMs: ms(t0),
        details,
        error: {
          code: isLsvmError(e) ? e.code : 'INTERNAL',
          message: e instanceof Error ? e.message : String(e),
        },
      });
      throw e;
    }
  }

  /** Records a step that was not run. */
  skip(name: string, reason: string): void {
    this.push({ step: name, status: 'skipped', durationMs: 0, details: { reason } });
  }

  private push(s: StepReport): void {
    this.steps.push(s);
    this.onStep?.(s);
  }
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;
