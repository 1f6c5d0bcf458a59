/** One line per watch event, in the words compose's `watch` uses where it has them. */
import type { WatchEvent } from '../../engine/watch/watch-session.js';

export function watchEventLine(e: WatchEvent): string {
  switch (e.kind) {
    case 'watching':
      return e.rules === 0 ? 'Watch: no develop.watch rules in the selected services' : `Watch enabled: ${e.services.join(', ')} (${e.rules} rules)`;
    case 'synced':
      return `${e.initial ? 'Initial sync' : 'Synced'} ${e.container} (${e.rule}): ${e.written} written, ${e.removed} removed in ${e.ms.toFixed(1)} ms`;
    case 'waiting':
      return `Service ${e.service} is not running: ${e.files} changed path(s) wait for it to start`;
    case 'rebuilding':
      return `Rebuilding service(s) ${e.services.join(', ')} after changes were detected...`;
    case 'rebuilt':
      return `Service(s) ${e.services.join(', ')} rebuilt and up in ${(e.ms / 1000).toFixed(2)} s`;
    case 'restarted':
      return `Restarted ${e.container} after changes were detected`;
    case 'exec':
      return `Ran exec in ${e.container}: exit code ${e.exitCode}${e.output.trim() === '' ? '' : `\n${e.output.trimEnd()}`}`;
    case 'reloaded':
      return e.services.length > 0 ? `Stack file changed: applied to ${e.services.join(', ')}` : 'Stack file changed: no service affected';
    case 'error':
      return `Watch error: ${e.text}`;
  }
}
