/**
 * What the network manager asks of a firewall driver (netavark's shape): rules for a
 * network's outbound NAT and isolation, and for a container's published ports. Drivers keep
 * no state of their own: everything they need to undo is found again in the kernel.
 */

export interface FirewallNetwork {
  /** the stack network name, e.g. 'proj_default' */
  name: string;
  bridge: string;
  /** IPv4 CIDR, e.g. '10.89.3.0/24' */
  subnet: string;
  /** no route out: nothing is forwarded into or out of the bridge, and the host answers only on the bridge's subnet */
  internal: boolean;
}

export interface PortMapping {
  /** '0.0.0.0' = every host address, or one host address like '127.0.0.1' */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export type PublishedPort = PortMapping & { owner: string };

export interface Firewall {
  /** Idempotent: a second call with the same network replaces its rules. The bridge must exist. */
  setupNetwork(net: FirewallNetwork): void;
  /** Removes exactly that network's chain and rules; the last network takes the whole table with it. */
  teardownNetwork(net: FirewallNetwork): void;
  /**
   * Publishes `ports` of container `owner`, replacing what `owner` published before. Ports
   * on an internal network are not published (docker ignores them too). A host address and
   * port that another owner holds is a conflict.
   */
  setupPorts(owner: string, net: FirewallNetwork, ports: PortMapping[]): void;
  /** Removes every port `owner` published, found by the rules' comments. */
  teardownPorts(owner: string): void;
  /** Every published port, read back from the kernel. */
  publishedPorts(): PublishedPort[];
  /** Drops everything of ours (tests, `stack system reset`). */
  removeAll(): void;
}
