import type { ConnectionState } from '../client/companion-client';

export interface ConnectionText {
  readonly tone: 'ok' | 'busy' | 'problem';
  readonly title: string;
  readonly detail: string;
  /** Whether the token field should be shown. */
  readonly askToken: boolean;
}

const REFUSAL_TITLES: Record<Extract<ConnectionState, { kind: 'refused' }>['code'], string> = {
  BAD_TOKEN: 'Wrong token',
  VERSION_MISMATCH: 'Version mismatch',
  RATE_LIMITED: 'Too many attempts',
  CONNECTION_LIMIT: 'Too many panels',
  PROTOCOL: 'Protocol error',
};

const START_HINT = 'Start it in a terminal with `npx stylestudio serve` (it prints the pairing token).';

/** What the connection line says in each state, with the fix where the user has to act. */
export function connectionText(state: ConnectionState, address = '127.0.0.1:47821'): ConnectionText {
  switch (state.kind) {
    case 'unpaired':
      return { tone: 'problem', title: 'Not paired', detail: `Paste the token the companion printed. ${START_HINT}`, askToken: true };
    case 'connecting':
      return { tone: 'busy', title: 'Connecting…', detail: `Looking for the companion on ${address}.`, askToken: false };
    case 'ready': {
      const w = state.welcome;
      const engine = w.engine.ready ? '' : ` Not ready: ${w.engine.reason ?? 'the engine is still starting'}.`;
      return { tone: w.engine.ready ? 'ok' : 'problem', title: 'Connected', detail: `Companion ${w.companionVersion} on ${w.provider}.${engine}`, askToken: false };
    }
    case 'unreachable':
      return {
        tone: 'problem',
        title: 'Companion not running',
        detail: `Nothing answers on ${address}. ${START_HINT} Retrying in ${Math.ceil(state.retryInMs / 1000)} s.`,
        askToken: false,
      };
    case 'refused':
      return {
        tone: 'problem',
        title: REFUSAL_TITLES[state.code],
        detail: state.message,
        askToken: state.code === 'BAD_TOKEN' || state.code === 'RATE_LIMITED',
      };
    case 'disconnected':
      return { tone: 'problem', title: 'Disconnected', detail: 'Paste the token to connect again.', askToken: true };
  }
}
