/**
 * The DNS server process: `node main.js <configDir> <pidFile>`. Started detached by
 * dns-control, it serves until a reload finds no network left. SIGHUP reloads the config
 * directory; SIGTERM stops it. stderr (a log file) only hears of real problems.
 */
import { publishPid, publishState, withdraw } from '../../daemon/daemon-state.js';
import { DnsServer } from './dns-server.js';
import type { DnsServerState } from './dns-server-state.js';

const [configDir, pidFile] = process.argv.slice(2);
if (!configDir || !pidFile) {
  process.stderr.write('usage: main.js <configDir> <pidFile>\n');
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} stack-dns[${process.pid}]: ${line}\n`);
const server = new DnsServer({ configDir, log });

let stopping = false;

async function stop(): Promise<void> {
  stopping = true;
  withdraw(pidFile!, process.pid);
  await server.close();
  process.exit(0);
}

async function load(): Promise<void> {
  if (stopping) return;
  const r = await server.reload();
  if (stopping) return;
  if (r.idle) return stop();
  for (const e of r.errors) log(e);
  const state: DnsServerState = { pid: process.pid, loadedAt: r.startedAt.toString(), networks: r.networks, errors: r.errors };
  publishState(pidFile!, state);
}

function fatal(e: unknown): never {
  log(`${(e as Error).stack ?? String(e)}`);
  withdraw(pidFile!, process.pid);
  process.exit(1);
}

// signal handlers do not keep node running: when no network could be bound (yet), this
// does, so that the next SIGHUP can try again
setInterval(() => undefined, 1 << 30);
// before the pid file exists: a SIGHUP that finds no handler would kill us
process.on('SIGHUP', () => void load().catch(fatal));
process.on('SIGTERM', () => void stop().catch(fatal));
publishPid(pidFile, process.pid);
void load().catch(fatal);
