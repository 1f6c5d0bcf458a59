/**
 * Build progress as plain lines (what a pipe or a CI log gets): one line per step, the
 * command's output indented under it, cached steps marked.
 */
import type { BuildEvent } from '../../engine/image/build/builder.js';

export function plainBuildProgress(write: (text: string) => void, prefix = ''): (e: BuildEvent) => void {
  return (e) => {
    if (e.type === 'step') write(`${prefix}[${e.stage} ${e.step}/${e.steps}] ${oneLine(e.text)}${e.cached ? '  (cached)' : ''}\n`);
    else if (e.type === 'output') write(`${prefix}  | ${e.text}\n`);
    else write(`${prefix}warning: ${e.text}\n`);
  };
}

function oneLine(text: string): string {
  const first = text.split('\n')[0]!;
  return first.length > 100 ? `${first.slice(0, 97)}...` : first;
}
