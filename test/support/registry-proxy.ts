/**
 * A loopback HTTP proxy in front of a plain test registry: clients given its host instead of
 * the registry's reach the same content, and the test sees every request (to count what a
 * pull fetched) and can break a response on purpose (cut it after N bytes, or hold it there)
 * to prove a client resumes. It runs in the test's own process, so a client run as a child
 * must be spawned asynchronously.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  range: string | undefined;
}

/**
 * What to do with one response: `cut` closes the connection after that many body bytes (a
 * dropped connection); `hold` sends that many and then nothing more until the client goes.
 */
export type Fault = { cut: number } | { hold: number };

export interface RegistryProxy {
  /** "127.0.0.1:PORT", as in image references */
  host: string;
  /** every request so far, in order */
  readonly requests: ProxiedRequest[];
  /** decides a fault per request (undefined: forwarded untouched); replace it at will */
  fault: (req: ProxiedRequest) => Fault | undefined;
  /** GETs of blobs (`/v2/<repo>/blobs/<digest>`) since the last reset, by digest */
  blobGets(): string[];
  reset(): void;
  close(): Promise<void>;
}

export async function startRegistryProxy(registryHost: string): Promise<RegistryProxy> {
  const [targetHost, targetPort] = registryHost.split(':') as [string, string];
  const proxy: RegistryProxy = {
    host: '',
    requests: [],
    fault: () => undefined,
    blobGets() {
      return this.requests.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path)).map((r) => r.path.replace(/^.*\/blobs\//, ''));
    },
    reset() {
      this.requests.length = 0;
    },
    close: () => Promise.resolve(),
  };

  const server = http.createServer((req, res) => {
    const seen: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range };
    proxy.requests.push(seen);
    const fault = proxy.fault(seen);
    // the Host header is kept: the registry builds upload Locations from it, so they point back here
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!fault) {
        up.pipe(res);
        return;
      }
      const limit = 'cut' in fault ? fault.cut : fault.hold;
      let sent = 0;
      up.on('data', (chunk: Buffer) => {
        if (sent >= limit) return;
        const part = chunk.subarray(0, limit - sent);
        sent += part.length;
        if (sent < limit) {
          res.write(part);
          return;
        }
        up.pause();
        // the bytes reach the client before the connection goes, so it holds exactly `limit`
        res.write(part, () => {
          if ('cut' in fault) res.socket?.destroy();
        });
      });
      up.on('end', () => {
        if (sent < limit) res.end();
      });
      res.on('close', () => up.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
