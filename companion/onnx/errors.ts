/** A build-time error: the graph is never half-built silently. Messages name the node/weight at fault. */
export class GraphBuildError extends Error {
  override readonly name = 'GraphBuildError';
}
