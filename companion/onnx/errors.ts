/** A build-time error: the graph is never half-built silently. Messages name the node/weight at fault. */
import { codedErrorClass } from '../../protocol';
export class GraphBuildError extends codedErrorClass('GraphBuildError', 'GRAPH_BUILD') {}
