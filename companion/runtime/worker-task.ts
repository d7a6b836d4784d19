import { Worker } from 'node:worker_threads';

/**
 * Runs one task in a fresh worker thread and settles with its one reply: heavy CPU work (graph builds, style
 * preprocessing) stays off the caller's thread. `what` names the work in errors; the worker is always terminated.
 */
export function runWorkerTask<Task, Reply, Result>(file: string, task: Task, what: string, settle: (reply: Reply) => Result): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file);
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      f();
    };
    worker.once('message', (r: Reply) => finish(() => {
      try {
        resolve(settle(r));
      } catch (e) {
        reject(e);
      }
    }));
    worker.once('error', (e) => finish(() => reject(new Error(`${what} worker failed: ${e.message}`))));
    worker.once('exit', (code) => finish(() => reject(new Error(`${what} worker exited (code ${code})`))));
    worker.postMessage(task);
  });
}
