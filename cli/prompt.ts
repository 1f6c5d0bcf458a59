/**
 * A yes/no question on the terminal or a pipe, answered by one line of standard input as
 * compose reads it: y, yes, t, true or 1 (in any case) mean yes; anything else, or no
 * input at all, means no.
 */
import { createInterface } from 'node:readline';
import type { CommandContext } from './command.js';

export async function confirm(ctx: CommandContext, question: string, input: NodeJS.ReadableStream = process.stdin): Promise<boolean> {
  ctx.stdout(question);
  const rl = createInterface({ input, terminal: false });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return ['y', 'yes', 't', 'true', '1'].includes(answer.trim().toLowerCase());
}
