/** What the DNS server publishes after a load, beyond every daemon's pid and load time. */
import type { DaemonState } from '../../daemon/daemon-state.js';

export interface DnsServerState extends DaemonState {
  networks: string[];
  errors: string[];
}
