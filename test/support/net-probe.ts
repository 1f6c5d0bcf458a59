/** Reaching what tests publish, on loopback only. */
import http from 'node:http';
import net from 'node:net';

/** a TCP port free on 127.0.0.1 right now */
export function freePort(): Promise<number> {
  const s = net.createServer();
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    }),
  );
}

export function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}
