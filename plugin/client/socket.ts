/**
 * The WebSocket surface the client uses: what UXP's WebSocket, the browser's and `ws` all provide.
 * Injected so tests and the e2e page can choose the implementation.
 */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: 'blob' | 'arraybuffer' | 'nodebuffer' | 'fragments';
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export const SOCKET_OPEN = 1;

/** The runtime's global WebSocket (UXP and browsers). */
export const globalSocketFactory: SocketFactory = (url) => {
  const Ctor = (globalThis as unknown as { WebSocket: new (url: string) => SocketLike }).WebSocket;
  return new Ctor(url);
};
