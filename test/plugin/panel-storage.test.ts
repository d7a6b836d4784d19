/**
 * Issue 13 item 9: secure-storage failures reach the user as notices (they were swallowed), and the panel still pairs
 * for the session. The client points at a closed port: no companion is needed to see what the panel says.
 */
import WebSocket from 'ws';
import { CompanionClient } from '../../plugin/client/companion-client';
import type { SocketLike } from '../../plugin/client/socket';
import { HostError } from '../../plugin/host/host';
import { SecureTokenStore } from '../../plugin/host/token-store';
import { PanelSession } from '../../plugin/session/panel-session';
import { MemoryHost, SAMPLE_DOC } from './fakes/memory-host';

function brokenHost(): MemoryHost {
  const host = new MemoryHost(SAMPLE_DOC);
  const store = new SecureTokenStore({
    getItem: async () => { throw new Error('keychain locked'); },
    setItem: async () => { throw new Error('keychain locked'); },
    removeItem: async () => { throw new Error('keychain locked'); },
  });
  Object.assign(host, { tokens: store });
  return host;
}

function session(host: MemoryHost): PanelSession {
  // Node's ws (unlike a browser's) also emits 'error' when closed before connecting: keep that from being unhandled.
  const socketFactory = (u: string): SocketLike => new WebSocket(u).on('error', () => undefined) as unknown as SocketLike;
  const client = new CompanionClient({ url: 'ws://127.0.0.1:9', socketFactory });
  return new PanelSession(host, client);
}

test('SecureTokenStore turns storage failures into HostErrors naming the cause', async () => {
  const store = brokenHost().tokens;
  await expect(store.load()).rejects.toThrow(HostError);
  await expect(store.save('t')).rejects.toThrow(/refused the token \(keychain locked\)/);
  await expect(store.clear()).rejects.toThrow(/could not remove the token \(keychain locked\)/);
});

test('a failing secure storage is reported at start, on pairing and on forgetting; pairing still goes ahead', async () => {
  const s = session(brokenHost());
  await s.start();
  expect(s.state.notice).toMatchObject({ kind: 'info', text: expect.stringContaining('keychain locked') });
  await s.pair('some-token-0123456789');
  expect(s.state.notice).toMatchObject({ kind: 'error', text: expect.stringMatching(/Paired for now.*keychain locked/) });
  expect(s.state.hasToken).toBe(true);
  expect(s.state.connection.kind).not.toBe('unpaired');
  await s.forgetToken();
  expect(s.state.notice).toMatchObject({ kind: 'error', text: expect.stringContaining('could not remove') });
  expect(s.state.connection.kind).toBe('disconnected');
  s.stop();
});
