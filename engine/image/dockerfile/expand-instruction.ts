/**
 * Variable expansion of whole instructions, applied exactly where BuildKit applies it.
 *
 * Expanded (each word with the variables in scope, see build-args.ts for what is in scope):
 *   FROM       image and --platform (with the global ARGs only)
 *   ENV, LABEL keys and values
 *   COPY, ADD  sources, destination, --chown, --chmod, ADD's --checksum, and the bodies of
 *              heredoc sources whose delimiter was not quoted
 *   WORKDIR, USER, STOPSIGNAL, VOLUME
 *   EXPOSE     split into words after expansion, so `EXPOSE $PORTS` can open several
 *   RUN        the values of --mount fields only
 * Not expanded:
 *   RUN, CMD, ENTRYPOINT, HEALTHCHECK bodies (the shell expands them at run time), SHELL,
 *   MAINTAINER, ONBUILD (expanded when a build FROM the image runs the trigger), COPY --from
 *   (rejected by the parser when it contains a variable) and --exclude patterns.
 *   ARG defaults are expanded only when used, which resolveGlobalArgs and stageArgValue do.
 */

import { StackError } from '../../errors.js';
import { instructionError } from './dockerfile-error.js';
import { ShellLex, type EscapeChar, type Lookup } from './expand.js';
import type { AnyInstruction, Heredoc } from './instructions.js';
import { joinMountFields, splitMountFields } from './mount-fields.js';

/**
 * A copy of `instr` with variables expanded. `escape` is the Dockerfile's escape character.
 * Throws StackError located at the instruction (e.g. for `${VAR:?message}` when VAR is unset).
 */
export function expandInstruction<T extends AnyInstruction>(instr: T, lookup: Lookup, escape: EscapeChar): T {
  const lex = new ShellLex({ escape });
  const word = (w: string) => lex.word(w, lookup);
  // heredoc bodies always use backslash and keep quotes, whatever the escape directive says
  const body = new ShellLex({ skipQuotes: true });
  const heredocs = (docs: Heredoc[]) => docs.map((h) => (h.expand ? { ...h, content: body.word(h.content, lookup) } : h));
  try {
    const i: AnyInstruction = { ...instr };
    switch (i.kind) {
      case 'FROM':
        i.image = word(i.image);
        if (i.platform !== undefined) i.platform = word(i.platform);
        break;
      case 'ENV':
      case 'LABEL':
        i.pairs = i.pairs.map((p) => ({ key: word(p.key), value: word(p.value) }));
        break;
      case 'COPY':
      case 'ADD':
        i.sources = i.sources.map(word);
        i.dest = word(i.dest);
        i.heredocs = heredocs(i.heredocs);
        if (i.chown !== undefined) i.chown = word(i.chown);
        if (i.chmod !== undefined) i.chmod = word(i.chmod);
        if (i.kind === 'ADD' && i.checksum !== undefined) i.checksum = word(i.checksum);
        break;
      case 'WORKDIR':
        i.path = word(i.path);
        break;
      case 'USER':
        i.user = word(i.user);
        break;
      case 'STOPSIGNAL':
        i.signal = word(i.signal);
        break;
      case 'VOLUME':
        i.paths = i.paths.map(word);
        break;
      case 'EXPOSE':
        i.ports = i.ports.flatMap((p) => lex.words(p, lookup));
        break;
      case 'RUN':
        i.mounts = i.mounts.map((m) => expandMount(m, word));
        break;
    }
    return i as T;
  } catch (e) {
    if (e instanceof StackError) throw instructionError(e.message, instr, e.hint, e);
    throw e;
  }
}

/** Each field's value is expanded on its own, after the CSV is split, as BuildKit does. */
function expandMount(mount: string, word: (w: string) => string): string {
  const fields = splitMountFields(mount).map((field) => {
    const eq = field.indexOf('=');
    return eq < 0 ? field : field.slice(0, eq + 1) + word(field.slice(eq + 1));
  });
  return joinMountFields(fields);
}
