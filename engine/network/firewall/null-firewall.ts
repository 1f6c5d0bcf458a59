/** The driver for hosts where stack must not touch the firewall: networks work, nothing is published or isolated. */
import type { Firewall, PublishedPort } from './firewall.js';

export class NullFirewall implements Firewall {
  setupNetwork(): void {}
  teardownNetwork(): void {}
  setupPorts(): void {}
  teardownPorts(): void {}
  publishedPorts(): PublishedPort[] {
    return [];
  }
  removeAll(): void {}
}
