import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Headless Chromium (Debian's `chromium`, or CHROMIUM=path) driven over the DevTools
 * protocol with Node's own fetch and WebSocket: no browser download, no client library.
 */
export interface CdpEvent {
  readonly method: string;
  readonly params: Record<string, unknown>;
}

export interface Page {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Every event received so far. */
  readonly events: CdpEvent[];
  waitFor(method: string, timeoutMs: number): Promise<CdpEvent>;
}

export interface Browser {
  readonly page: Page;
  close(): Promise<void>;
}

const DEVTOOLS_LINE = /DevTools listening on (ws:\/\/[^\s]+)/;

function devtoolsUrl(child: ChildProcess, timeoutMs: number): Promise<URL> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () =>
        reject(new Error(`chromium printed no DevTools address within ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = DEVTOOLS_LINE.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(new URL(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited with ${code}: ${seen}`));
    });
  });
}

function connect(url: string): Promise<Page> {
  const Socket = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!Socket)
    throw new Error('no global WebSocket: run Node >= 22 or with --experimental-websocket');
  const socket = new Socket(url);
  const pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  const events: CdpEvent[] = [];
  const waiters: { method: string; resolve: (event: CdpEvent) => void }[] = [];
  let nextId = 1;
  socket.addEventListener('message', (message) => {
    const data = JSON.parse(String(message.data)) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: Record<string, unknown>;
      error?: { message: string };
    };
    if (data.id !== undefined) {
      const call = pending.get(data.id);
      pending.delete(data.id);
      if (data.error) call?.reject(new Error(data.error.message));
      else call?.resolve(data.result ?? {});
      return;
    }
    if (data.method) {
      const event = { method: data.method, params: data.params ?? {} };
      events.push(event);
      for (const waiter of waiters.filter((w) => w.method === event.method)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  const page: Page = {
    events,
    send(method, params = {}) {
      const id = nextId++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    waitFor(method, timeoutMs) {
      const seen = events.find((event) => event.method === method);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${method} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          method,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(page));
    socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)));
  });
}

/** Starts headless Chromium on a free DevTools port and connects to its blank page. */
export async function launchChromium(timeoutMs = 60_000): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'fanout-chromium-'));
  const child = spawn(
    process.env.CHROMIUM ?? 'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(profile, { recursive: true, force: true });
  };
  try {
    const browserUrl = await devtoolsUrl(child, timeoutMs);
    const list = (await (await fetch(`http://${browserUrl.host}/json/list`)).json()) as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = list.find((item) => item.type === 'page');
    if (!target) throw new Error('chromium has no page target');
    return { page: await connect(target.webSocketDebuggerUrl), close };
  } catch (error) {
    await close();
    throw error;
  }
}
