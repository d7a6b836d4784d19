/** Worker side of buildGraphInWorker: one spec in, the serialised model (or the error) out. */
import { parentPort } from 'node:worker_threads';
import { buildGraph, type GraphBuildReply, type GraphSpec } from './graph-build';

parentPort?.once('message', (spec: GraphSpec) => {
  try {
    const model = buildGraph(spec);
    parentPort!.postMessage({ ok: true, model } satisfies GraphBuildReply); // copied: ~1-2 MB
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    parentPort!.postMessage({ ok: false, name: err.name, message: err.message } satisfies GraphBuildReply);
  }
});
