/**
 * A project's supervisor process: `node main.js <project> <stateDir> <runDir>`. Started
 * detached by supervisor-control, it runs until a scan finds the project without
 * containers. SIGHUP has it list them again; SIGTERM stops it (the containers go on).
 * stderr (a log file shared by every project's supervisor) only hears of real problems.
 */
import { publishPid, publishState, withdraw, type DaemonState } from '../daemon/daemon-state.js';
import { supervisorPidFile } from './supervisor-control.js';
import { Supervisor } from './supervisor.js';

export interface SupervisorState extends DaemonState {
  containers: string[];
}

const [project, stateDir, runDir] = process.argv.slice(2);
if (!project || !stateDir || !runDir) {
  process.stderr.write('usage: main.js <project> <stateDir> <runDir>\n');
  process.exit(2);
}

const pidFile = supervisorPidFile({ stateDir, runDir }, project);
const log = (line: string) => process.stderr.write(`${new Date().toISOString()} stack-supervisor[${project} ${process.pid}]: ${line}\n`);
const supervisor = new Supervisor({
  paths: { stateDir, runDir },
  project,
  log,
  onScan: (startedAt, containers) => {
    const state: SupervisorState = { pid: process.pid, loadedAt: startedAt.toString(), containers };
    publishState(pidFile, state);
  },
});

function fatal(e: unknown): never {
  log(`${(e as Error).stack ?? String(e)}`);
  withdraw(pidFile, process.pid);
  process.exit(1);
}

// before the pid file exists: a SIGHUP that finds no handler would kill us
process.on('SIGHUP', () => {
  try {
    supervisor.rescan();
  } catch (e) {
    fatal(e);
  }
});
process.on('SIGTERM', () => void supervisor.close().catch(fatal));
publishPid(pidFile, process.pid);
supervisor.run().then(() => {
  withdraw(pidFile, process.pid);
  process.exit(0);
}, fatal);
