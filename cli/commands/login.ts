/**
 * `stack login [SERVER]` and `stack logout [SERVER]`, docker's: credentials are checked
 * against the registry, then kept in docker's config.json (so docker and stack share them).
 */
import { readFileSync } from 'node:fs';
import { StackError } from '../../engine/errors.js';
import type { Command, CommandContext, OptionValues } from '../command.js';

export const loginCommand: Command = {
  name: 'login',
  summary: 'Log in to a registry',
  usage: 'stack login [-u USER] [--password-stdin | -p PASSWORD] [SERVER]',
  options: [
    { name: 'username', short: 'u', type: 'string', value: 'USER', description: 'user name' },
    { name: 'password', short: 'p', type: 'string', value: 'PASSWORD', description: 'password (visible to other users of the machine: prefer --password-stdin)' },
    { name: 'password-stdin', type: 'boolean', description: 'read the password from standard input' },
  ],
  async run(ctx: CommandContext, options: OptionValues, args: string[]): Promise<number> {
    if (args.length > 1) throw new StackError('stack login takes at most one server', { hint: 'stack login [OPTIONS] [SERVER]' });
    const { login, registryOfServer, dockerConfigFile } = await import('../../engine/registry/index.js');
    const registry = registryOfServer(args[0]);
    const username = options.username as string | undefined;
    let password = options.password as string | undefined;
    if (options['password-stdin']) {
      if (password !== undefined) throw new StackError('--password and --password-stdin are mutually exclusive', { hint: 'keep --password-stdin' });
      password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    }
    if (username === undefined || password === undefined) {
      throw new StackError('stack login needs a user name and a password', {
        hint: `e.g. echo "$PASSWORD" | stack login -u USER --password-stdin ${args[0] ?? ''}`.trimEnd(),
      });
    }
    if (options.password !== undefined) ctx.stderr('warning: a password on the command line is visible to other users; use --password-stdin\n');
    await login(registry, { username, password });
    ctx.stdout(`Login Succeeded (credentials saved in ${dockerConfigFile(ctx.env)})\n`);
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  summary: 'Log out from a registry',
  usage: 'stack logout [SERVER]',
  options: [],
  async run(ctx: CommandContext, _options: OptionValues, args: string[]): Promise<number> {
    if (args.length > 1) throw new StackError('stack logout takes at most one server', { hint: 'stack logout [SERVER]' });
    const { logout, registryOfServer } = await import('../../engine/registry/index.js');
    const registry = registryOfServer(args[0]);
    ctx.stdout(logout(registry) ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    return 0;
  },
};
