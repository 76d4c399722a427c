/**
 * waitForJob (what `orewatch aoi run --wait` waits on) against a queue whose job finishes between
 * two reads: a job read while active carries no return value, so the state must be read first.
 */
import { describe, expect, it } from 'vitest';
import { waitForJob, type JobSource } from '../workers/server/ops.js';

interface FakeJob { name: string; returnvalue: unknown; attemptsMade: number; opts: { attempts?: number }; failedReason?: string }

/** A queue where each read moves the job one step on: the job is read active, then it finishes. */
function racingQueue(final: 'completed' | 'failed', job: FakeJob): { queue: JobSource; reads: string[] } {
  const reads: string[] = [];
  let state: string = 'active';
  const finish = (): void => { state = final; };
  const queue = {
    // A snapshot as BullMQ's getJob gives it: the fields as they were when it was read.
    async getJob(): Promise<FakeJob> {
      reads.push(`job:${state}`);
      const snapshot = state === final ? { ...job } : { ...job, returnvalue: null, failedReason: undefined, attemptsMade: 0 };
      finish();
      return snapshot;
    },
    async getJobState(): Promise<string> {
      reads.push(`state:${state}`);
      const seen = state;
      finish();
      return seen;
    },
  } as unknown as JobSource;
  return { queue, reads };
}

describe('waitForJob', () => {
  it('returns the return value of a job that completes between reading it and reading its state', async () => {
    const summary = { found: 3, queued: ['SCAN-1'], failed: [] };
    const { queue } = racingQueue('completed', { name: 'discover', returnvalue: summary, attemptsMade: 1, opts: {} });
    expect(await waitForJob(queue, 'j1', 5_000)).toEqual(summary);
  });

  it('throws the failure reason of a job that fails for good', async () => {
    const { queue } = racingQueue('failed', { name: 'discover', returnvalue: null, attemptsMade: 1, opts: { attempts: 1 }, failedReason: 'no such area' });
    await expect(waitForJob(queue, 'j2', 5_000)).rejects.toThrow(/discover job j2 failed: no such area/);
  });

  it('gives up with a transient error after the timeout', async () => {
    const queue = { getJob: async () => undefined, getJobState: async () => 'active' } as unknown as JobSource;
    await expect(waitForJob(queue, 'j3', 10)).rejects.toMatchObject({ code: 'JOB.WAIT_TIMEOUT' });
  });
});
