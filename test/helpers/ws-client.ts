/** A protocol-v1 test client: records every message, checks the daemon's messages against the schemas. */
import WebSocket from 'ws';
import {
  FrameKind, parseServerMessage, PROTOCOL_VERSION, Reassembler, type ReassembledImage, type ServerMessage, type Welcome,
} from '../../protocol';

export interface ConnectOptions {
  readonly headers?: Record<string, string>;
  readonly origin?: string;
}

export class TestClient {
  readonly messages: ServerMessage[] = [];
  /** Text frames from the daemon that failed the protocol schemas (must stay empty). */
  readonly invalid: string[] = [];
  readonly images = new Map<number, ReassembledImage>();
  readonly binaryErrors: string[] = [];
  binaryFrames = 0;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly reassembler = new Reassembler({ maxImageSide: 8192, maxOpenTransfers: 64, acceptKinds: [FrameKind.result, FrameKind.preview, FrameKind.reference] });
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      if (isBinary) {
        this.binaryFrames++;
        try {
          const image = this.reassembler.push(bytes);
          if (image) this.images.set(image.transferId, image);
        } catch (err) {
          this.binaryErrors.push(String(err));
        }
      } else {
        const parsed = parseServerMessage(bytes.toString('utf8'));
        if (parsed.ok) this.messages.push(parsed.message);
        else this.invalid.push(`${parsed.message}: ${bytes.toString('utf8').slice(0, 200)}`);
      }
      this.notify();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      this.notify();
    }));
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: options.headers, origin: options.origin, perMessageDeflate: false });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Connects and pairs; rejects unless a welcome arrives. */
  static async paired(url: string, token: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    await client.hello(token);
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  async hello(token: string, protocolVersion: string = PROTOCOL_VERSION): Promise<Welcome> {
    this.send({ type: 'hello', protocolVersion, token });
    const m = await this.waitFor((x) => x.type === 'welcome' || x.type === 'error');
    if (m.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(m)}`);
    return m;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** Resolves with the first recorded message (from index `from`) matching `pred`. */
  waitFor(pred: (m: ServerMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<ServerMessage> {
    return this.waitUntil(() => this.messages.slice(from).find(pred), timeoutMs, `a message matching ${pred.toString().slice(0, 120)}`);
  }

  /** Resolves once `probe` returns a value other than undefined (checked after every message). */
  waitUntil<T>(probe: () => T | undefined, timeoutMs = 10_000, what = 'a condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const value = probe();
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${JSON.stringify(this.messages.slice(-5))}`));
      }, timeoutMs);
      const waiter = (): void => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** A round trip: the error or answer that follows a message (waits for the pong of a ping sent after it). */
  async roundTrip(): Promise<void> {
    const nonce = Math.random();
    this.send({ type: 'ping', nonce });
    await this.waitFor((m) => m.type === 'pong' && m.nonce === nonce);
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
