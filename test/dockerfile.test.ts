import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StackError, StackErrors } from '../engine/errors.js';
import {
  expandInstruction,
  expandWord,
  expandWords,
  findStage,
  parseDockerfile,
  PREDEFINED_ARGS,
  resolveGlobalArgs,
  ShellLex,
  splitMountFields,
  joinMountFields,
  stageArgValue,
  type AnyInstruction,
  type ArgInstruction,
  type Dockerfile,
  type Instruction,
} from '../engine/image/dockerfile/index.js';
import { parseHeredocWord, parseRaw, parseWords, type RawNode } from '../engine/image/dockerfile/parse.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/dockerfiles');

/** BuildKit's Node.Dump format, so cases read like BuildKit's parser testfiles. */
function dump(text: string): string {
  const quote = (s: string) => JSON.stringify(s);
  const one = (n: RawNode): string => {
    let s = n.keyword.toLowerCase();
    if (n.flags.length) s += ` [${n.flags.map(quote).join(' ')}]`;
    const args = n.pairs ? n.pairs.flatMap((p) => [p.key, p.value, p.legacy ? '' : '=']) : n.args;
    for (const a of args) s += ` ${quote(a)}`;
    if (n.inner) s += ` (${one(n.inner)})`;
    return s;
  };
  return parseRaw(text, 'Dockerfile')
    .nodes.map((n) => `(${one(n)})`)
    .join('\n');
}

function df(text: string): Dockerfile {
  return parseDockerfile(text, 'Dockerfile');
}

/** The instructions of the only stage of `FROM scratch\n<body>`. */
function stage(body: string): Instruction[] {
  return df(`FROM scratch\n${body}`).stages[0]!.instructions;
}

function only<K extends Instruction['kind']>(body: string, kind: K): Extract<Instruction, { kind: K }> {
  const list = stage(body);
  assert.equal(list.length, 1, `expected one instruction in ${JSON.stringify(body)}`);
  assert.equal(list[0]!.kind, kind);
  return list[0] as Extract<Instruction, { kind: K }>;
}

function parseError(text: string): StackError {
  try {
    parseDockerfile(text, 'Dockerfile');
  } catch (e) {
    if (e instanceof StackError) return e;
    throw e;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

function assertError(text: string, want: { line: number; col: number; message: string; hint?: RegExp }) {
  const e = parseError(text);
  assert.equal(e.kind, 'invalid');
  assert.deepEqual(e.location, { file: 'Dockerfile', line: want.line, col: want.col }, e.message);
  assert.equal(e.message, want.message);
  if (want.hint) assert.match(e.hint ?? '', want.hint);
}

describe('line grammar (BuildKit parser cases)', () => {
  test('escapes outside and inside quotes, empty continuation lines, JSON escapes', () => {
    const text = [
      'FROM ubuntu:14.04',
      'LABEL maintainer Erik \\\\Hollensbe <erik@hollensbe.org>\\"',
      '',
      'RUN apt-get \\update && \\',
      '  apt-get \\"install znc -y',
      'ADD \\conf\\\\" /.znc',
      '',
      'RUN foo \\',
      '',
      'bar \\',
      '',
      'baz',
      '',
      'CMD [ "\\/usr\\\\\\"/bin/znc", "-f", "-r" ]',
    ].join('\n');
    assert.equal(
      dump(text),
      [
        '(from "ubuntu:14.04")',
        '(label "maintainer" "Erik \\\\\\\\Hollensbe <erik@hollensbe.org>\\\\\\"" "")',
        '(run "apt-get \\\\update &&   apt-get \\\\\\"install znc -y")',
        '(add "\\\\conf\\\\\\\\\\"" "/.znc")',
        '(run "foo bar baz")',
        '(cmd "/usr\\\\\\"/bin/znc" "-f" "-r")',
      ].join('\n'),
    );
  });

  test('ENV and LABEL forms keep quotes and escapes for expansion to resolve', () => {
    const text = [
      'FROM x',
      'ENV name value',
      'ENV name=value name2=value2',
      'ENV name="value value1"',
      'ENV name=value\\ value2',
      `ENV name='value"double quote"value2'`,
      'ENV name="a\\"b"',
      `ENV name='a\\'b''`,
      'ENV SCUBA 1 DUBA 3',
      'ENV name=value \\',
      '    name1=value1 \\',
      '    name2="value2a \\',
      '           value2b" \\',
      '\tname4="value4a\\\\nvalue4b" \\',
    ].join('\n');
    assert.deepEqual(dump(text).split('\n'), [
      '(from "x")',
      '(env "name" "value" "")',
      '(env "name" "value" "=" "name2" "value2" "=")',
      '(env "name" "\\"value value1\\"" "=")',
      '(env "name" "value\\\\ value2" "=")',
      `(env "name" "'value\\"double quote\\"value2'" "=")`,
      '(env "name" "\\"a\\\\\\"b\\"" "=")',
      `(env "name" "'a\\\\'b''" "=")`,
      '(env "SCUBA" "1 DUBA 3" "")',
      '(env "name" "value" "=" "name1" "value1" "=" "name2" "\\"value2a            value2b\\"" "=" "name4" "\\"value4a\\\\\\\\nvalue4b\\"" "=")',
    ]);
  });

  test('flags: quotes resolved, `--` ends them, none after the first argument', () => {
    const text = [
      'FROM scratch',
      'COPY --user=me --doit=true foo /tmp/',
      'COPY --doit=true -- foo /tmp/',
      'COPY -- --notaflag /tmp/',
      'COPY --chown="a b" x --y /',
      'CMD --doit [ "a", "b" ]',
      'CMD --doit -- [ ]',
    ].join('\n');
    assert.deepEqual(dump(text).split('\n'), [
      '(from "scratch")',
      '(copy ["--user=me" "--doit=true"] "foo" "/tmp/")',
      '(copy ["--doit=true"] "foo" "/tmp/")',
      '(copy "--notaflag" "/tmp/")',
      '(copy ["--chown=a b"] "x" "--y" "/")',
      '(cmd ["--doit"] "a" "b")',
      '(cmd ["--doit"])',
    ]);
  });

  test('JSON only when the arguments are a JSON array of strings', () => {
    const text = [
      'CMD []',
      'CMD [""]',
      'CMD\t[\t"a",\t"b"\t]\t',
      'CMD ["abc 123", "♥", "\\" \\\\ \\/ \\n \\t"]',
      "CMD ['single', 'quotes']",
      'CMD ["unterminated"',
      'CMD [ "echo", "ok" ] && true',
      'RUN ["x", "json inside \\"string\\""]',
    ].join('\n');
    const nodes = parseRaw(text, 'Dockerfile').nodes.map((n) => [n.json, n.args]);
    assert.deepEqual(nodes, [
      [true, []],
      [true, ['']],
      [true, ['a', 'b']],
      [true, ['abc 123', '♥', '" \\ / \n \t']],
      [false, ["['single', 'quotes']"]],
      [false, ['["unterminated"']],
      [false, ['[ "echo", "ok" ] && true']],
      [true, ['x', 'json inside "string"']],
    ]);
    assert.throws(() => parseRaw('FROM x\nCMD [ "echo", [ "nested json" ] ]', 'Dockerfile'), /arrays must be comprised of strings only/);
  });

  test('continuation keeps the indentation of continued lines; comments vanish inside', () => {
    const text = [
      'FROM ubuntu',
      'RUN echo hello\\',
      '  world\\',
      '  goodnight  \\',
      '  moon\\',
      '  light\\',
      'ning',
      'RUN echo hello  \\  ',
      'world',
      'RUN echo hi \\',
      ' \\',
      ' world \\',
      '\\',
      ' good\\',
      '\\',
      'night',
      'RUN echo hello \\',
      '# this is a comment',
      '',
      '   # an indented comment with a blank line around it',
      '',
      'this is some more useful stuff',
    ].join('\n');
    assert.deepEqual(dump(text).split('\n'), [
      '(from "ubuntu")',
      '(run "echo hello  world  goodnight    moon  lightning")',
      '(run "echo hello  world")',
      '(run "echo hi   world  goodnight")',
      '(run "echo hello this is some more useful stuff")',
    ]);
  });

  test('HEALTHCHECK keeps its type word apart; ONBUILD nests its instruction', () => {
    const text = [
      'FROM debian',
      'HEALTHCHECK',
      'HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\',
      '  CMD /app/check.sh --quiet',
      'HEALTHCHECK   CMD   a b',
      'HEALTHCHECK --timeout=3s CMD ["foo"]',
      'HEALTHCHECK CONNECT TCP 7000',
      'ONBUILD RUN ["echo", "test"]',
      'ONBUILD COPY --from=x . /',
    ].join('\n');
    assert.deepEqual(dump(text).split('\n'), [
      '(from "debian")',
      '(healthcheck)',
      '(healthcheck ["--interval=5s" "--timeout=3s" "--retries=3"] "CMD" "/app/check.sh --quiet")',
      '(healthcheck "CMD" "a b")',
      '(healthcheck ["--timeout=3s"] "CMD" "foo")',
      '(healthcheck "CONNECT" "TCP 7000")',
      '(onbuild (run "echo" "test"))',
      '(onbuild (copy ["--from=x"] "." "/"))',
    ]);
  });

  test('a trailing escape at the end of the file, and an escaped escape that is no continuation', () => {
    assert.deepEqual(dump('FROM x\nRUN echo hi \\').split('\n'), ['(from "x")', '(run "echo hi")']);
    assert.deepEqual(dump('FROM x\nENV GOPATH \\\n\\go').split('\n'), ['(from "x")', '(env "GOPATH" "\\\\go" "")']);
    assert.deepEqual(dump('FROM x\nRUN echo a\\\\\nRUN echo b').split('\n'), ['(from "x")', '(run "echo a\\\\\\\\")', '(run "echo b")']);
  });

  test('parseWords keeps quotes and escapes inside words', () => {
    const cases: [string, string[]][] = [
      ['foo', ['foo']],
      ['foo bar', ['foo', 'bar']],
      ['foo\\ bar', ['foo\\ bar']],
      ['foo=bar', ['foo=bar']],
      ["foo bar 'abc xyz'", ['foo', 'bar', "'abc xyz'"]],
      ['foo bar "abc xyz"', ['foo', 'bar', '"abc xyz"']],
      ['föo bàr "âbc xÿz"', ['föo', 'bàr', '"âbc xÿz"']],
      ['a="" b', ['a=""', 'b']],
    ];
    for (const [input, want] of cases) assert.deepEqual(parseWords(input, '\\'), want, input);
  });

  test('instructions are case-insensitive; keyword line and column are recorded', () => {
    const text = '\n\n  from alpine AS Build\n\n\tRun echo \\\n  one\n# c\ncOpY a b\n';
    const d = df(text);
    const s = d.stages[0]!;
    assert.equal(s.name, 'build');
    assert.deepEqual(s.from.location, { file: 'Dockerfile', line: 3, col: 3 });
    assert.equal(s.from.original, 'from alpine AS Build');
    const [run, copy] = s.instructions;
    assert.deepEqual([run!.kind, run!.location, run!.endLine], ['RUN', { file: 'Dockerfile', line: 5, col: 2 }, 6]);
    assert.equal(run!.original, 'Run echo   one');
    assert.deepEqual([copy!.kind, copy!.location.line, copy!.location.col], ['COPY', 8, 1]);
  });

  test('start and end lines across continuations, blank lines and comments', () => {
    const text = [
      '# ESCAPE=\\',
      '',
      '',
      '',
      'FROM brimstone/ubuntu:14.04',
      '',
      '',
      '# TORUN -v /var/run/docker.sock:/var/run/docker.sock',
      '',
      '',
      'ENV GOPATH \\',
      '/go',
      '',
      '',
      '',
      '# Install the packages we need',
      'RUN apt-get update \\',
      '\t&& dpkg -l \\',
      '',
      '',
      '    && apt-get clean \\',
      '# interleaved comment',
      '\t&& rm -rf $GOPATH',
      '',
    ].join('\n');
    const lines = parseRaw(text, 'Dockerfile').nodes.map((n) => [n.location.line, n.endLine]);
    assert.deepEqual(lines, [
      [5, 5],
      [11, 12],
      [17, 23],
    ]);
  });

  test('CRLF line endings and a byte order mark are tolerated', () => {
    const d = df('\uFEFFFROM alpine AS base\r\nRUN echo a \\\r\n    b\r\nENV A=1\r\n');
    const [run, env] = d.stages[0]!.instructions;
    assert.deepEqual(run!.kind === 'RUN' && run!.command, { form: 'shell', text: 'echo a     b' });
    assert.deepEqual(env!.kind === 'ENV' && env!.pairs, [{ key: 'A', value: '1' }]);
    assert.equal(d.stages[0]!.from.location.col, 1);
  });
});

describe('parser directives', () => {
  test('the escape directive switches continuation and escaping to the backtick', () => {
    const d = df('# escape=`\nFROM windows\nRUN dir C:\\ `\n    /s\nCOPY ["C:\\\\a b", "D:\\\\"]\nENV P=C:\\x\\y');
    assert.equal(d.escape, '`');
    const [run, copy, env] = d.stages[0]!.instructions;
    assert.deepEqual(run!.kind === 'RUN' && run!.command, { form: 'shell', text: 'dir C:\\     /s' });
    assert.deepEqual(copy!.kind === 'COPY' && [copy!.sources, copy!.dest], [['C:\\a b'], 'D:\\']);
    assert.deepEqual(env!.kind === 'ENV' && env!.pairs, [{ key: 'P', value: 'C:\\x\\y' }]);
    // with the backtick as escape, a trailing backslash is an ordinary character
    assert.equal(dump('#escape=`\nFROM x\nRUN a\\\nRUN b'), '(from "x")\n(run "a\\\\")\n(run "b")');
  });

  test('directives are case-insensitive, only at the very top, and syntax is recorded', () => {
    const d = df('# Syntax = docker/dockerfile:1.7 \n#ESCAPE=`\n# check=skip=all\nFROM x');
    assert.equal(d.syntax, 'docker/dockerfile:1.7');
    assert.equal(d.escape, '`');
    // after a blank line or an ordinary comment a directive is only a comment
    assert.equal(df('\n# escape=`\nFROM x').escape, '\\');
    assert.equal(df('# a comment\n# escape=`\nFROM x').escape, '\\');
    assert.equal(df('FROM x\n# escape=`').escape, '\\');
    assert.equal(df('# unknown=1\n# escape=`\nFROM x').escape, '\\');
  });

  test('a repeated or invalid directive is an error on its line', () => {
    assertError('# escape=`\n# escape=\\\nFROM x', { line: 2, col: 1, message: 'only one escape parser directive can be used' });
    assertError('# escape=x\nFROM x', { line: 1, col: 1, message: "invalid escape token 'x' does not match ` or \\", hint: /escape=`/ });
  });
});

describe('heredocs', () => {
  test('names, expansion, chomping and content of every heredoc form', () => {
    const text = [
      'FROM alpine:3.6',
      'RUN <<EMPTY',
      'EMPTY',
      'RUN 3<<EMPTY2',
      'EMPTY2',
      'RUN "<<NOHEREDOC"',
      'RUN <<INDENT',
      '\tfoo',
      '\tbar',
      'INDENT',
      'RUN <<-UNINDENT2',
      '\tbaz',
      '\tquux',
      '\tUNINDENT2',
      "RUN <<-'NOEXPAND'",
      "\tdon't expand $NAME",
      'NOEXPAND',
      'RUN <<COMMENT',
      '# internal comment',
      'echo foo bar # trailing comment',
      'COMMENT',
      'RUN --mount=type=cache,target=/foo <<MOUNT',
      'echo hello',
      'MOUNT',
      'COPY <<FILE1 <<FILE2 /dest',
      'content 1',
      'FILE1',
      'content 2',
      'FILE2',
      'COPY <<X <<Y /dest',
      'Y',
      'X',
      'X',
      'Y',
      'RUN <<COMPLEX python3',
      "print('hello world')",
      'COMPLEX',
      "RUN <<eo'f'",
      'echo foo',
      'eof',
      "RUN <<eo\\'f",
      'echo foo',
      "eo'f",
      "RUN <<'one two'",
      'echo bar',
      'one two',
      'RUN <<$EOF',
      '$EOF',
      'RUN <<  EOF  > foo',
      'EOF',
      'RUN ["<<EOF"]',
    ].join('\n');
    const docs = parseRaw(text, 'Dockerfile').nodes.slice(1).map((n) => n.heredocs);
    const h = (name: string, content: string, expand = true, chomp = false) => ({ name, content, expand, chomp });
    assert.deepEqual(docs, [
      [h('EMPTY', '')],
      [h('EMPTY2', '')],
      [],
      [h('INDENT', '\tfoo\n\tbar\n')],
      [h('UNINDENT2', 'baz\nquux\n', true, true)],
      [h('NOEXPAND', "don't expand $NAME\n", false, true)],
      [h('COMMENT', '# internal comment\necho foo bar # trailing comment\n')],
      [h('MOUNT', 'echo hello\n')],
      [h('FILE1', 'content 1\n'), h('FILE2', 'content 2\n')],
      [h('X', 'Y\n'), h('Y', 'X\n')],
      [h('COMPLEX', "print('hello world')\n")],
      [h('eof', 'echo foo\n', false)],
      [h("eo'f", 'echo foo\n')],
      [h('one two', 'echo bar\n', false)],
      [h('$EOF', '')],
      [h('EOF', '')],
      [],
    ]);
  });

  test('delimiter words: valid, malformed, and words that are no heredoc', () => {
    for (const src of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
      assert.equal(parseHeredocWord(src)?.name, 'EOF', src);
    }
    for (const src of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) assert.equal(parseHeredocWord(src), undefined, src);
    for (const src of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) assert.throws(() => parseHeredocWord(src), StackError, src);
  });

  test('typed RUN and COPY: the shell text keeps the heredoc word, COPY sources exclude heredocs', () => {
    const [run, stdin, copy] = stage('RUN <<EOF\necho hi\nEOF\nRUN python3 <<PY\nprint(1)\nPY\nCOPY --chmod=755 <<run.sh a.txt /usr/local/bin/\n#!/bin/sh\nrun.sh\n');
    assert.deepEqual(run!.kind === 'RUN' && [run!.command, run!.heredocs], [{ form: 'shell', text: '<<EOF' }, [{ name: 'EOF', content: 'echo hi\n', expand: true, chomp: false }]]);
    assert.deepEqual(stdin!.kind === 'RUN' && stdin!.command, { form: 'shell', text: 'python3 <<PY' });
    assert.ok(copy!.kind === 'COPY');
    assert.deepEqual([copy.sources, copy.dest, copy.chmod], [['a.txt'], '/usr/local/bin/', '755']);
    assert.deepEqual(copy.heredocs, [{ name: 'run.sh', content: '#!/bin/sh\n', expand: true, chomp: false }]);
    assert.equal(copy.original, 'COPY --chmod=755 <<run.sh a.txt /usr/local/bin/');
    assert.equal(copy.endLine, 10);
  });

  test('heredocs only on RUN, COPY, ADD and inside ONBUILD', () => {
    const [onbuild, user] = stage('ONBUILD RUN <<EOF\necho later\nEOF\nUSER <<NOT');
    assert.ok(onbuild!.kind === 'ONBUILD' && onbuild!.inner.kind === 'RUN');
    assert.deepEqual(onbuild.inner.heredocs, [{ name: 'EOF', content: 'echo later\n', expand: true, chomp: false }]);
    assert.equal(onbuild.expression, 'RUN <<EOF\necho later\nEOF');
    assert.deepEqual(user!.kind === 'USER' && user!.user, '<<NOT');
  });
});

describe('instructions', () => {
  test('FROM: image, AS name (lower-cased), --platform', () => {
    const d = df('FROM --platform=$BUILDPLATFORM golang:1.22 AS Builder\nFROM builder\nFROM scratch as final');
    assert.deepEqual(
      d.stages.map((s) => [s.index, s.name, s.from.image, s.from.platform]),
      [
        [0, 'builder', 'golang:1.22', '$BUILDPLATFORM'],
        [1, undefined, 'builder', undefined],
        [2, 'final', 'scratch', undefined],
      ],
    );
    assert.deepEqual(d.stages[0]!.from.flags, { platform: '$BUILDPLATFORM' });
  });

  test('RUN in both forms, with --mount, --network and --security', () => {
    const [shell, exec, flagged] = stage(
      'RUN apt-get update && apt-get install -y curl\nRUN ["/bin/sh", "-c", "echo $HOME"]\nRUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=npm --network=none --security=insecure make',
    );
    assert.deepEqual(shell!.kind === 'RUN' && shell!.command, { form: 'shell', text: 'apt-get update && apt-get install -y curl' });
    assert.deepEqual(exec!.kind === 'RUN' && exec!.command, { form: 'exec', argv: ['/bin/sh', '-c', 'echo $HOME'] });
    assert.ok(flagged!.kind === 'RUN');
    assert.deepEqual(flagged.mounts, ['type=cache,target=/root/.cache', 'type=secret,id=npm']);
    assert.equal(flagged.network, 'none');
    assert.equal(flagged.security, 'insecure');
    assert.deepEqual(flagged.flags, { mount: ['type=cache,target=/root/.cache', 'type=secret,id=npm'], network: 'none', security: 'insecure' });
  });

  test('CMD and ENTRYPOINT in both forms; bare ones clear', () => {
    assert.deepEqual(only('CMD ["nginx", "-g", "daemon off;"]', 'CMD').command, { form: 'exec', argv: ['nginx', '-g', 'daemon off;'] });
    assert.deepEqual(only('CMD echo "hello world" | wc -c', 'CMD').command, { form: 'shell', text: 'echo "hello world" | wc -c' });
    assert.deepEqual(only('ENTRYPOINT exec top -b', 'ENTRYPOINT').command, { form: 'shell', text: 'exec top -b' });
    assert.deepEqual(only('ENTRYPOINT []', 'ENTRYPOINT').command, { form: 'exec', argv: [] });
    assert.deepEqual(only('CMD', 'CMD').command, { form: 'exec', argv: [] });
  });

  test('SHELL, MAINTAINER, WORKDIR, USER, STOPSIGNAL keep their argument whole', () => {
    assert.deepEqual(only('SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'SHELL').argv, ['/bin/bash', '-o', 'pipefail', '-c']);
    assert.equal(only('MAINTAINER Jane Doe <jane@example.com>', 'MAINTAINER').name, 'Jane Doe <jane@example.com>');
    assert.equal(only('WORKDIR /path with spaces/$APP', 'WORKDIR').path, '/path with spaces/$APP');
    assert.equal(only('USER app:staff', 'USER').user, 'app:staff');
    assert.equal(only('STOPSIGNAL SIGQUIT', 'STOPSIGNAL').signal, 'SIGQUIT');
  });

  test('ENV: the modern form with quotes and several pairs, and the legacy form', () => {
    assert.deepEqual(only('ENV a=b c="d e" f=g\\ h i=', 'ENV').pairs, [
      { key: 'a', value: 'b' },
      { key: 'c', value: '"d e"' },
      { key: 'f', value: 'g\\ h' },
      { key: 'i', value: '' },
    ]);
    assert.deepEqual(only('ENV PATH /usr/local/bin:$PATH with   spaces', 'ENV').pairs, [{ key: 'PATH', value: '/usr/local/bin:$PATH with   spaces' }]);
  });

  test('ARG: several per line, with and without defaults', () => {
    const d = df('ARG A B=2 C="x y"\nFROM scratch\nARG D=\nARG E');
    assert.deepEqual(d.globalArgs[0]!.args, [{ name: 'A' }, { name: 'B', default: '2' }, { name: 'C', default: '"x y"' }]);
    const [d1, e] = d.stages[0]!.instructions;
    assert.deepEqual(d1!.kind === 'ARG' && d1!.args, [{ name: 'D', default: '' }]);
    assert.deepEqual(e!.kind === 'ARG' && e!.args, [{ name: 'E' }]);
  });

  test('LABEL, EXPOSE, VOLUME in both forms', () => {
    assert.deepEqual(only('LABEL "com.example.vendor"="ACME" version=1.0 description="multi\\\n  line"', 'LABEL').pairs, [
      { key: '"com.example.vendor"', value: '"ACME"' },
      { key: 'version', value: '1.0' },
      { key: 'description', value: '"multi  line"' },
    ]);
    assert.deepEqual(only('EXPOSE 80/tcp 53/udp $PORT', 'EXPOSE').ports, ['80/tcp', '53/udp', '$PORT']);
    assert.deepEqual(only('VOLUME ["/data", "/var/log app"]', 'VOLUME').paths, ['/data', '/var/log app']);
    assert.deepEqual(only('VOLUME /data /cache', 'VOLUME').paths, ['/data', '/cache']);
  });

  test('COPY and ADD: shell and JSON forms and all flags', () => {
    const copy = only('COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=tmp a b /dst/', 'COPY');
    assert.deepEqual(
      [copy.sources, copy.dest, copy.from, copy.chown, copy.chmod, copy.link, copy.parents, copy.excludes],
      [['a', 'b'], '/dst/', 'build', 'app:app', '0644', true, true, ['*.md', 'tmp']],
    );
    const json = only('COPY ["my file.txt", "other", "/dest dir/"]', 'COPY');
    assert.deepEqual([json.sources, json.dest, json.link, json.from], [['my file.txt', 'other'], '/dest dir/', false, undefined]);
    const add = only('ADD --checksum=sha256:abc --keep-git-dir=false --unpack=true --link=false https://example.com/a.tar.gz /opt/', 'ADD');
    assert.deepEqual(
      [add.sources, add.dest, add.checksum, add.keepGitDir, add.unpack, add.link],
      [['https://example.com/a.tar.gz'], '/opt/', 'sha256:abc', false, true, false],
    );
    assert.equal(only('ADD a /b', 'ADD').keepGitDir, undefined);
  });

  test('HEALTHCHECK: NONE, CMD in both forms, durations in milliseconds', () => {
    assert.equal(only('HEALTHCHECK NONE', 'HEALTHCHECK').none, true);
    const h = only('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --start-interval=1.5s --retries=5 CMD curl -f http://localhost/', 'HEALTHCHECK');
    assert.ok(!h.none);
    assert.deepEqual(
      [h.command, h.interval, h.timeout, h.startPeriod, h.startInterval, h.retries],
      [{ form: 'shell', text: 'curl -f http://localhost/' }, 90_000, 500, 2000, 1500, 5],
    );
    const exec = only('HEALTHCHECK --timeout=0s CMD ["/bin/check", "--quick"]', 'HEALTHCHECK');
    assert.ok(!exec.none);
    assert.deepEqual([exec.command, exec.timeout, exec.interval], [{ form: 'exec', argv: ['/bin/check', '--quick'] }, 0, undefined]);
  });

  test('ONBUILD wraps a typed instruction and keeps the trigger text', () => {
    const o = only('ONBUILD COPY --chown=app . /app/src', 'ONBUILD');
    assert.ok(o.inner.kind === 'COPY');
    assert.deepEqual([o.inner.sources, o.inner.dest, o.inner.chown], [['.'], '/app/src', 'app']);
    assert.equal(o.expression, 'COPY --chown=app . /app/src');
    assert.deepEqual(o.inner.location, { file: 'Dockerfile', line: 2, col: 9 });
  });

  test('findStage by name (any case) or index; an unknown target lists the stages', () => {
    const d = df('FROM a AS build\nFROM b\nFROM c AS runtime');
    assert.equal(findStage(d, 'BUILD').index, 0);
    assert.equal(findStage(d, '1').from.image, 'b');
    assert.equal(findStage(d, 'runtime').index, 2);
    assert.throws(
      () => findStage(d, 'runtim'),
      (e: unknown) => e instanceof StackError && e.kind === 'not-found' && e.message === 'target stage "runtim" could not be found in Dockerfile' && e.hint === 'did you mean "runtime"?',
    );
    assert.throws(() => findStage(d, '7'), (e: unknown) => e instanceof StackError && e.hint === 'the stages are "build", "runtime", 0-2 by index');
  });
});

describe('errors point at the instruction', () => {
  test('an unknown instruction, with a typo suggestion', () => {
    assertError('FROM x\n  COPPY a b', { line: 2, col: 3, message: 'unknown instruction: COPPY in "COPPY a b"', hint: /did you mean "COPY"\?/ });
  });

  test('anything but ARG before the first FROM', () => {
    assertError('ARG V=1\nRUN echo\nFROM x', { line: 2, col: 1, message: 'RUN before the first FROM in "RUN echo"', hint: /only ARG/ });
  });

  test('missing arguments', () => {
    assertError('FROM x\nCOPY onlyone', {
      line: 2,
      col: 1,
      message: 'COPY requires at least two arguments, but only one was provided. Destination could not be determined in "COPY onlyone"',
      hint: /COPY \[--from/,
    });
    assertError('FROM', { line: 1, col: 1, message: 'FROM requires either one or three arguments in "FROM"' });
    assertError('FROM a AS', { line: 1, col: 1, message: 'FROM requires either one or three arguments in "FROM a AS"' });
    assertError('FROM x\nWORKDIR', { line: 2, col: 1, message: 'WORKDIR requires exactly one argument in "WORKDIR"' });
    assertError('FROM x\nRUN --network=host', { line: 2, col: 1, message: 'RUN requires at least one argument in "RUN --network=host"' });
    assertError('FROM x\nENV', { line: 2, col: 1, message: 'ENV requires at least one argument in "ENV"' });
    assertError('FROM x\nENV PATH', { line: 2, col: 1, message: 'ENV must have two arguments in "ENV PATH"' });
    assertError('FROM x\nLABEL a=b c', { line: 2, col: 1, message: 'Syntax error - can\'t find = in "c". Must be of the form: name=value in "LABEL a=b c"' });
    assertError('FROM x\nARG =v', { line: 2, col: 1, message: 'ARG names can not be blank in "ARG =v"' });
    assertError('FROM x\nEXPOSE', { line: 2, col: 1, message: 'EXPOSE requires at least one argument in "EXPOSE"' });
    assertError('FROM x\nVOLUME [""]', { line: 2, col: 1, message: 'VOLUME specified can not be an empty string in "VOLUME [""]"' });
  });

  test('unknown, duplicate and malformed flags', () => {
    assertError('FROM x\nCOPY --frm=build /a /b', { line: 2, col: 1, message: 'unknown flag: --frm in "COPY --frm=build /a /b"', hint: /did you mean "--from"\?/ });
    assertError('FROM x\nWORKDIR --x=1 /a', { line: 2, col: 1, message: 'unknown flag: --x in "WORKDIR --x=1 /a"', hint: /WORKDIR takes no flags/ });
    assertError('FROM x\nCOPY --from=a --from=b /a /b', { line: 2, col: 1, message: 'duplicate flag specified: --from in "COPY --from=a --from=b /a /b"' });
    assertError('FROM x\nCOPY --chown /a /b', { line: 2, col: 1, message: 'missing a value on flag: --chown in "COPY --chown /a /b"' });
    assertError('FROM x\nCOPY --link=yes /a /b', { line: 2, col: 1, message: 'expecting boolean value for flag --link, not: yes in "COPY --link=yes /a /b"' });
    assertError('FROM x\nRUN --network=bridge true', { line: 2, col: 1, message: 'invalid network mode "bridge" in "RUN --network=bridge true"' });
    assertError('FROM x\nRUN --mount=type=bind,from=$STAGE true', {
      line: 2,
      col: 1,
      message: '\'from\' doesn\'t support variable expansion, define alias stage instead in "RUN --mount=type=bind,from=$STAGE true"',
    });
    assertError('FROM x\nRUN --mount=type=bind,src=\\"a true', {
      line: 2,
      col: 1,
      message: 'failed to parse csv mounts: bare " in non-quoted field at column 15 in "RUN --mount=type=bind,src=\\"a true"',
    });
  });

  test('COPY --from takes no variables', () => {
    assertError('FROM x\nCOPY --from=$BASE /a /b', { line: 2, col: 1, message: 'variable expansion is not supported for --from in "COPY --from=$BASE /a /b"', hint: /define a stage/ });
  });

  test('SHELL must be JSON', () => {
    assertError('FROM x\nSHELL /bin/bash -c', { line: 2, col: 1, message: 'SHELL requires the arguments to be in JSON form in "SHELL /bin/bash -c"', hint: /SHELL \["\/bin\/bash", "-c"\]/ });
  });

  test('an unterminated heredoc', () => {
    assertError('FROM x\nRUN <<EOF\necho hi\nEFO\n', { line: 2, col: 1, message: 'unterminated heredoc <<EOF in "RUN <<EOF"', hint: /line containing only "EOF"/ });
    assertError('FROM x\nCOPY <<-A <<B /x\nA\n', { line: 2, col: 1, message: 'unterminated heredoc <<B in "COPY <<-A <<B /x"' });
  });

  test('duplicate stage names and bad stage names', () => {
    assertError('FROM a AS build\nRUN x\n FROM b AS Build', { line: 3, col: 2, message: 'duplicate stage name "build" in "FROM b AS Build"', hint: /line 1/ });
    assertError('FROM a AS 1st', { line: 1, col: 1, message: 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols in "FROM a AS 1st"' });
  });

  test('bad HEALTHCHECK durations and options', () => {
    assertError('FROM x\nHEALTHCHECK --interval=5 CMD true', { line: 2, col: 1, message: 'invalid duration "5" for --interval in "HEALTHCHECK --interval=5 CMD true"', hint: /30s/ });
    assertError('FROM x\nHEALTHCHECK --timeout=500us CMD true', { line: 2, col: 1, message: 'Interval "timeout" cannot be less than 1ms in "HEALTHCHECK --timeout=500us CMD true"' });
    assertError('FROM x\nHEALTHCHECK --retries=-1 CMD true', { line: 2, col: 1, message: '--retries cannot be negative (-1) in "HEALTHCHECK --retries=-1 CMD true"' });
    assertError('FROM x\nHEALTHCHECK --retries=three CMD true', { line: 2, col: 1, message: 'invalid --retries value "three" in "HEALTHCHECK --retries=three CMD true"' });
    assertError('FROM x\nHEALTHCHECK --intreval=5s CMD true', { line: 2, col: 1, message: 'unknown flag: --intreval in "HEALTHCHECK --intreval=5s CMD true"', hint: /--interval/ });
    assertError('FROM x\nHEALTHCHECK CMD', { line: 2, col: 1, message: 'Missing command after HEALTHCHECK CMD in "HEALTHCHECK CMD"' });
    assertError('FROM x\nHEALTHCHECK NONE now', { line: 2, col: 1, message: 'HEALTHCHECK NONE takes no arguments in "HEALTHCHECK NONE now"' });
    assertError('FROM x\nHEALTHCHECK CONNECT TCP 7000', { line: 2, col: 1, message: 'Unknown type "CONNECT" in HEALTHCHECK (try CMD) in "HEALTHCHECK CONNECT TCP 7000"' });
  });

  test('ONBUILD cannot chain or hold FROM/MAINTAINER', () => {
    assertError('FROM x\nONBUILD ONBUILD RUN x', { line: 2, col: 1, message: 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed in "ONBUILD ONBUILD RUN x"' });
    assertError('FROM x\nONBUILD FROM y', { line: 2, col: 1, message: 'FROM isn\'t allowed as an ONBUILD trigger in "ONBUILD FROM y"' });
    assertError('FROM x\nONBUILD', { line: 2, col: 1, message: 'ONBUILD requires at least one argument in "ONBUILD"' });
    // an error in the trigger points at the trigger's keyword
    assertError('FROM x\nONBUILD  COPY a', { line: 2, col: 10, message: 'COPY requires at least two arguments, but only one was provided. Destination could not be determined in "COPY a"' });
  });

  test('every wrong instruction is reported at once, in order', () => {
    try {
      df('FROM x\nRUNN a\nCOPY a\nWORKDIR /ok');
      assert.fail('expected errors');
    } catch (e) {
      assert.ok(e instanceof StackErrors);
      assert.deepEqual(
        e.errors.map((x) => [x.location?.line, x.message.split(' in ')[0]]),
        [
          [2, 'unknown instruction: RUNN'],
          [3, 'COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
        ],
      );
    }
  });

  test('an empty Dockerfile, and one without FROM', () => {
    assert.match(parseError('\n# only a comment\n\n').message, /no instructions/);
    assert.match(parseError('ARG A=1').message, /no FROM/);
  });
});

describe('expansion (BuildKit shell/lex cases)', () => {
  const env = new Map([
    ['PWD', '/home'],
    ['SHELL', 'bash'],
    ['KOREAN', '한국어'],
    ['NULL', ''],
  ]);
  const lookup = (name: string) => env.get(name);
  const expand = (word: string) => {
    try {
      return expandWord(word, lookup);
    } catch (e) {
      assert.ok(e instanceof StackError, String(e));
      return 'error';
    }
  };

  // envVarTest
  const table: [string, string][] = [
    ['hello', 'hello'],
    ["he'll'o", 'hello'],
    ["he'llo", 'error'],
    ["he\\'llo", "he'llo"],
    ["he\\\\'llo", 'error'],
    ['abc\\tdef', 'abctdef'],
    ['"abc\\tdef"', 'abc\\tdef'],
    ['"abc\\\\tdef"', 'abc\\tdef'],
    ["'abc\\tdef'", 'abc\\tdef'],
    ['hello\\', 'hello'],
    ['hello\\\\', 'hello\\'],
    ['"hello', 'error'],
    ['"hello\\"', 'error'],
    ['"hel\'lo"', "hel'lo"],
    ["'hello", 'error'],
    ["'hello\\'", 'hello\\'],
    ['"\'\'"', "''"],
    ['$.', '$.'],
    ['he$1x', 'hex'],
    ['he$.x', 'he$.x'],
    ['he$pwd.', 'he.'],
    ['he$PWD', 'he/home'],
    ['he\\$PWD', 'he$PWD'],
    ['he\\\\$PWD', 'he\\/home'],
    ['"he\\$PWD"', 'he$PWD'],
    ['"he\\\\$PWD"', 'he\\/home'],
    ['\\${}', '${}'],
    ['he\\${}xx', 'he${}xx'],
    ['${}', 'error'],
    ['he${}xx', 'error'],
    ['he${hi}xx', 'hexx'],
    ['he${PWD}', 'he/home'],
    ['he${.}', 'error'],
    ['he${XXX:-000}xx', 'he000xx'],
    ['he${PWD:-000}xx', 'he/homexx'],
    ['he${XXX:-$PWD}xx', 'he/homexx'],
    ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
    ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
    ['he${XXX:YYY}', 'error'],
    ['he${XXX?}', 'error'],
    ['he${XXX:?}', 'error'],
    ['he${PWD?}', 'he/home'],
    ['he${PWD:?}', 'he/home'],
    ['he${NULL?}', 'he'],
    ['he${NULL:?}', 'error'],
    ['he${XXX:+${PWD}}xx', 'hexx'],
    ['he${PWD:+${XXX}}xx', 'hexx'],
    ['he${PWD:+${SHELL}}xx', 'hebashxx'],
    ['he${XXX:+000}xx', 'hexx'],
    ['he${PWD:+000}xx', 'he000xx'],
    ["'he${XX}'", 'he${XX}'],
    ['"he${PWD}"', 'he/home'],
    ['"he\'$PWD\'"', "he'/home'"],
    ['"$PWD"', '/home'],
    ["'$PWD'", '$PWD'],
    ["'\\$PWD'", '\\$PWD'],
    ['\'"hello"\'', '"hello"'],
    ["'he\\$PWD'", 'he\\$PWD'],
    ['he${PWD', 'error'],
    ['he${PWD:=000}xx', 'error'],
    ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
    ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
    ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
    ['안녕하세요', '안녕하세요'],
    ["안'녕'하세요", '안녕하세요'],
    ['안녕$KOREAN', '안녕한국어'],
    ['안녕${XXX:-${PWD:-yyy}}xx', '안녕/homexx'],
    ['${{aaa}', 'error'],
    ['${aaa}}', '}'],
    ['${aaa', 'error'],
    ['${aaa:-bbb}}', 'bbb}'],
    ['${aaa:-bbb', 'error'],
    ['${aaa:-${bbb:-ccc}}', 'ccc'],
    ['${aaa:-bbb ${foo}', 'error'],
    ['${aaa:-bbb {foo}', 'bbb {foo'],
    ['${:}', 'error'],
    ['${:-bbb}', 'error'],
    ['$1', ''],
    ['${1:-bbb}', 'bbb'],
    ['$999aaa', 'aaa'],
    ['${001:-bbb}aaa', 'bbbaaa'],
    ['$@@@', '@@'],
    ['${@:-bbb}', 'bbb'],
    ['$*', ''],
    ['${#:+bbb}', ''],
    ['${?:-bbb}', 'bbb'],
    ['$$', ''],
    ['${!}', ''],
    ['$0', ''],
  ];
  for (const [input, want] of table) {
    test(`${input} -> ${want}`, () => assert.equal(expand(input), want));
  }

  test('${VAR:?message} and ${VAR?message} (mandatory variables)', () => {
    const vars = (m: Record<string, string>) => (n: string) => m[n];
    assert.equal(expandWord('${VAR:?message here$ARG}', vars({ VAR: 'plain', ARG: 'x' })), 'plain');
    assert.throws(() => expandWord('${VAR:?message here$ARG}', vars({ VAR: '', ARG: 'x' })), /VAR: message herex/);
    assert.throws(() => expandWord('${VAR:?message here$ARG}', vars({ ARG: 'x' })), /VAR: message herex/);
    assert.equal(expandWord('${VAR?message here$ARG}', vars({ VAR: '', ARG: 'x' })), '');
    assert.throws(() => expandWord('${VAR?}', vars({})), (e: unknown) => e instanceof StackError && e.message === 'failed to process "${VAR?}": VAR: is not allowed to be unset');
  });

  test('prefix, suffix and pattern substitution', () => {
    const cases: [string, Record<string, string>, string][] = [
      ['${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', { FOO: 'xxx', BAR: '' }, 'xxx  ccc'],
      ['${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', { FOO: 'xxx', BAR: '' }, 'xxx bbb ccc'],
      ['${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', { FOO: 'xxx', BAR: '' }, 'aaa bbb '],
      ['${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', { FOO: 'xxx', BAR: '' }, 'aaa  '],
      ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
      ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
      ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
      ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
      ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
      ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
      ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
      ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
      ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
      ['${FOO%y*}', { FOO: 'xxyy' }, 'xxy'],
      ['${FOO%%y*}', { FOO: 'xxyy' }, 'xx'],
      ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
      ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
      ['${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}', { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' }, '/foo/b/c.txt - /foo/c.txt'],
      ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
      ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
      ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
      [
        'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz',
        { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' },
        'something-v1.2.3.linux-arm-v7.tar.gz',
      ],
      ['something-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}', { TARGETARCH: 'arm64', TARGETVARIANT: '' }, 'something-arm64'],
    ];
    for (const [input, vars, want] of cases) assert.equal(expandWord(input, (n) => vars[n]), want, input);
    for (const bad of ['${FOO=aaa}', '${FOO:#}', '${FOO:%%}', '${FOO//ww}', '${FOO//}', '${FOO#\\x}']) {
      assert.throws(() => expandWord(bad, (n) => ({ FOO: 'xxyy' })[n]), StackError, bad);
    }
  });

  test('word splitting happens after expansion, outside quotes (wordsTest)', () => {
    const vars: Record<string, string> = { hi: 'hi', space: 'abc  def', leading: '  ab c', trailing: 'ab c   ' };
    const cases: [string, string[]][] = [
      ['hello', ['hello']],
      ['hello${hi}bye', ['hellohibye']],
      ['hello${space}bye', ['helloabc', 'defbye']],
      ['hello"${space}"bye', ['helloabc  defbye']],
      ['hello "${space}"bye', ['hello', 'abc  defbye']],
      ['hello${leading}def', ['hello', 'ab', 'cdef']],
      ['hello"${leading}" def', ['hello  ab c', 'def']],
      ['hello${trailing}d', ['helloab', 'c', 'd']],
      ['hel"lo${trailing}"', ['helloab c   ']],
      ['hello" there  "', ['hello there  ']],
      ['hello there     ', ['hello', 'there']],
      ['hello\\ there', ['hello there']],
      ['hello\\" there', ['hello"', 'there']],
      ['hello"\\\\there"', ['hello\\there']],
      ['hello"\\there"', ['hello\\there']],
      ["hello'\\\\there'", ['hello\\\\there']],
      ["hello'$there'", ['hello$there']],
      ['""', []],
    ];
    for (const [input, want] of cases) assert.deepEqual(expandWords(input, (n) => vars[n]), want, input);
    assert.throws(() => expandWords('hello" there', () => undefined), StackError);
  });

  test('the backtick escape; raw modes used for heredoc detection', () => {
    assert.equal(expandWord('C:\\dir `$HOME ``x', () => '/root', '`'), 'C:\\dir $HOME `x');
    const raw = new ShellLex({ rawQuotes: true, rawEscapes: true, skipUnset: true });
    assert.deepEqual(raw.words(`RUN cat <<"EOF" $X \${Y:-z} 'a b'`, () => undefined), ['RUN', 'cat', '<<"EOF"', '$X', '${Y:-z}', "'a b'"]);
  });
});

describe('expandInstruction', () => {
  const vars: Record<string, string> = { BASE: 'alpine', TAG: '3.19', USERNAME: 'app', DIR: '/srv', PORTS: '80 443/tcp', SIG: 'SIGINT', ARCH: 'arm64', NAME: 'world' };
  const lookup = (n: string) => vars[n];
  const expanded = (body: string): AnyInstruction[] => {
    const d = df(`FROM $BASE:\${TAG} AS x\n${body}`);
    return [d.stages[0]!.from, ...d.stages[0]!.instructions].map((i) => expandInstruction(i, lookup, d.escape));
  };

  test('the expanded fields of each instruction kind', () => {
    const [from, env, label, copy, add, workdir, user, volume, expose, stop] = expanded(
      [
        'ENV HOME=$DIR/home GREETING="hello ${NAME}" ${NAME}_KEY=1',
        'LABEL arch=$ARCH',
        'COPY --chown=$USERNAME:$USERNAME --chmod=${MODE:-644} src/$NAME* $DIR/',
        'ADD --checksum=sha256:${ARCH} https://example.com/$ARCH.tgz $DIR',
        'WORKDIR $DIR/app',
        'USER ${USERNAME}',
        'VOLUME ["$DIR/data"]',
        'EXPOSE $PORTS 8080',
        'STOPSIGNAL $SIG',
      ].join('\n'),
    );
    assert.deepEqual(from!.kind === 'FROM' && [from!.image, from!.stageName], ['alpine:3.19', 'x']);
    assert.deepEqual(env!.kind === 'ENV' && env!.pairs, [
      { key: 'HOME', value: '/srv/home' },
      { key: 'GREETING', value: 'hello world' },
      { key: 'world_KEY', value: '1' },
    ]);
    assert.deepEqual(label!.kind === 'LABEL' && label!.pairs, [{ key: 'arch', value: 'arm64' }]);
    assert.deepEqual(copy!.kind === 'COPY' && [copy!.chown, copy!.chmod, copy!.sources, copy!.dest], ['app:app', '644', ['src/world*'], '/srv/']);
    assert.deepEqual(add!.kind === 'ADD' && [add!.checksum, add!.sources, add!.dest], ['sha256:arm64', ['https://example.com/arm64.tgz'], '/srv']);
    assert.equal(workdir!.kind === 'WORKDIR' && workdir!.path, '/srv/app');
    assert.equal(user!.kind === 'USER' && user!.user, 'app');
    assert.deepEqual(volume!.kind === 'VOLUME' && volume!.paths, ['/srv/data']);
    assert.deepEqual(expose!.kind === 'EXPOSE' && expose!.ports, ['80', '443/tcp', '8080']);
    assert.equal(stop!.kind === 'STOPSIGNAL' && stop!.signal, 'SIGINT');
  });

  test('shell bodies, SHELL, ONBUILD and ARG are left alone; RUN mount values are expanded', () => {
    const [, run, cmd, shell, onbuild, arg, health] = expanded(
      [
        'RUN --mount=type=cache,id=cache-$ARCH,target=$DIR/.cache,ro echo $NAME',
        'CMD echo $NAME',
        'SHELL ["/bin/sh", "-c"]',
        'ONBUILD RUN echo $NAME',
        'ARG X=$NAME',
        'HEALTHCHECK CMD curl $NAME',
      ].join('\n'),
    );
    assert.ok(run!.kind === 'RUN');
    assert.deepEqual([run.command, run.mounts], [{ form: 'shell', text: 'echo $NAME' }, ['type=cache,id=cache-arm64,target=/srv/.cache,ro']]);
    assert.deepEqual(cmd!.kind === 'CMD' && cmd!.command, { form: 'shell', text: 'echo $NAME' });
    assert.deepEqual(shell!.kind === 'SHELL' && shell!.argv, ['/bin/sh', '-c']);
    assert.equal(onbuild!.kind === 'ONBUILD' && onbuild!.expression, 'RUN echo $NAME');
    assert.deepEqual(arg!.kind === 'ARG' && arg!.args, [{ name: 'X', default: '$NAME' }]);
    assert.ok(health && health.kind === 'HEALTHCHECK' && !health.none);
    assert.deepEqual(health.command, { form: 'shell', text: 'curl $NAME' });
  });

  test('COPY heredoc bodies expand unless the delimiter is quoted; quotes inside stay', () => {
    const [, plain, quoted] = expanded(['COPY <<EOF /a', 'hello "$NAME" \\$NAME', 'EOF', "COPY <<'EOF' /b", 'hello $NAME', 'EOF'].join('\n'));
    assert.equal(plain!.kind === 'COPY' && plain!.heredocs[0]!.content, 'hello "world" $NAME\n');
    assert.equal(quoted!.kind === 'COPY' && quoted!.heredocs[0]!.content, 'hello $NAME\n');
  });

  test('RUN mounts round-trip through CSV quoting', () => {
    assert.deepEqual(splitMountFields('type=secret,id=a,"target=/run/a,b","x=""q"""'), ['type=secret', 'id=a', 'target=/run/a,b', 'x="q"']);
    assert.equal(joinMountFields(['type=secret', 'target=/run/a,b', 'x="q"']), 'type=secret,"target=/run/a,b","x=""q"""');
    const d = df('FROM x\nRUN --mount="type=bind,target=$DIR,source=a,b" true');
    const run = expandInstruction(d.stages[0]!.instructions[0]!, (n) => ({ DIR: '/x,y' })[n], '\\');
    assert.deepEqual(run.kind === 'RUN' && run.mounts, ['type=bind,"target=/x,y",source=a,b']);
  });

  test('an expansion error is located at the instruction', () => {
    const d = df('FROM scratch\n\n   WORKDIR ${APPDIR:?set APPDIR}');
    assert.throws(
      () => expandInstruction(d.stages[0]!.instructions[0]!, () => undefined, d.escape),
      (e: unknown) =>
        e instanceof StackError &&
        e.message === 'failed to process "${APPDIR:?set APPDIR}": APPDIR: set APPDIR in "WORKDIR ${APPDIR:?set APPDIR}"' &&
        e.location?.line === 3 &&
        e.location.col === 4,
    );
  });

  test('the Dockerfile escape character is used', () => {
    const d = df('# escape=`\nFROM x\nWORKDIR C:\\`$HOME\\$DIR');
    const w = expandInstruction(d.stages[0]!.instructions[0]!, lookup, d.escape);
    assert.equal(w.kind === 'WORKDIR' && w.path, 'C:\\$HOME\\/srv');
  });
});

describe('ARG scoping', () => {
  const args = (text: string): ArgInstruction[] => df(`${text}\nFROM scratch`).globalArgs;

  test('global ARGs: build args win over defaults, defaults see earlier ARGs and the platform ARGs', () => {
    const scope = resolveGlobalArgs(
      args('ARG GO=1.22\nARG IMAGE=golang:${GO}-${TARGETARCH}\nARG UNSET\nARG OVERRIDDEN=${NOPE:?never expanded}'),
      new Map([
        ['OVERRIDDEN', 'given'],
        ['TARGETARCH', 'riscv64'],
        ['UNDECLARED', 'ignored'],
      ]),
      new Map([
        ['TARGETARCH', 'amd64'],
        ['TARGETOS', 'linux'],
      ]),
      '\\',
    );
    assert.deepEqual(Object.fromEntries(scope), { TARGETARCH: 'riscv64', TARGETOS: 'linux', GO: '1.22', IMAGE: 'golang:1.22-riscv64', OVERRIDDEN: 'given' });
  });

  test('a failing global default reports the ARG line', () => {
    assert.throws(
      () => resolveGlobalArgs(args('ARG A=1\nARG B=${C:?required}'), new Map(), new Map(), '\\'),
      (e: unknown) => e instanceof StackError && e.location?.line === 2 && e.message.includes('C: required'),
    );
  });

  test('stage ARGs: build arg, else expanded default, else the global value', () => {
    const d = df('ARG VERSION=1.0\nFROM scratch\nARG VERSION\nARG LEVEL=${MODE}-x\nARG OTHER');
    const [version, level, other] = d.stages[0]!.instructions as ArgInstruction[];
    const scope = (buildArgs: [string, string][]) => ({
      buildArgs: new Map(buildArgs),
      globalArgs: new Map([['VERSION', '1.0']]),
      lookup: (n: string) => ({ MODE: 'debug' })[n],
      escape: '\\' as const,
    });
    assert.equal(stageArgValue(version!.args[0]!, version!, scope([])), '1.0');
    assert.equal(stageArgValue(version!.args[0]!, version!, scope([['VERSION', '2.0']])), '2.0');
    assert.equal(stageArgValue(level!.args[0]!, level!, scope([])), 'debug-x');
    assert.equal(stageArgValue(level!.args[0]!, level!, scope([['LEVEL', 'given']])), 'given');
    assert.equal(stageArgValue(other!.args[0]!, other!, scope([])), undefined);
  });

  test('the predefined ARG names', () => {
    for (const name of ['HTTP_PROXY', 'https_proxy', 'NO_PROXY', 'all_proxy', 'TARGETPLATFORM', 'BUILDARCH', 'TARGETVARIANT']) {
      assert.ok(PREDEFINED_ARGS.includes(name), name);
    }
  });
});

describe('realistic Dockerfiles', () => {
  const load = (name: string) => parseDockerfile(readFileSync(path.join(fixtures, name), 'utf8'), name);
  const shape = (d: Dockerfile) => d.stages.map((s) => [s.name ?? s.index, s.instructions.map((i) => i.kind).join(' ')]);

  test('multi-stage Go with cache mounts, a heredoc build script and a scratch release', () => {
    const d = load('go-multistage.Dockerfile');
    assert.equal(d.syntax, 'docker/dockerfile:1');
    assert.deepEqual(
      d.globalArgs.flatMap((a) => a.args),
      [
        { name: 'GO_VERSION', default: '1.22' },
        { name: 'ALPINE_VERSION', default: '3.19' },
      ],
    );
    assert.deepEqual(shape(d), [
      ['base', 'RUN WORKDIR ENV'],
      ['deps', 'COPY RUN'],
      ['build', 'ARG ARG ARG RUN'],
      ['test', 'RUN'],
      ['release', 'COPY COPY COPY USER EXPOSE STOPSIGNAL HEALTHCHECK ENTRYPOINT'],
    ]);
    const build = findStage(d, 'build').instructions[3]!;
    assert.ok(build.kind === 'RUN');
    assert.equal(build.mounts.length, 3);
    assert.match(build.heredocs[0]!.content, /^ {2}set -e\n {2}GOOS=\$TARGETOS/);
    const health = findStage(d, 'release').instructions[6]!;
    assert.ok(health.kind === 'HEALTHCHECK' && !health.none);
    assert.deepEqual([health.interval, health.timeout, health.startPeriod, health.retries], [30_000, 3000, 5000, 3]);
    const scope = resolveGlobalArgs(d.globalArgs, new Map(), new Map([['BUILDPLATFORM', 'linux/amd64']]), d.escape);
    const from = expandInstruction(findStage(d, 'base').from, (n) => scope.get(n), d.escape);
    assert.deepEqual([from.image, from.platform], ['golang:1.22-alpine3.19', 'linux/amd64']);
  });

  test('Node app: comments inside a continued RUN, legacy ENV, labels over two lines', () => {
    const d = load('node-app.Dockerfile');
    assert.deepEqual(shape(d), [
      ['deps', 'RUN WORKDIR COPY RUN'],
      ['builder', 'WORKDIR COPY COPY ENV RUN'],
      ['runner', 'WORKDIR ENV RUN COPY COPY COPY USER EXPOSE ENV LABEL CMD'],
    ]);
    const install = findStage(d, 'deps').instructions[3]!;
    assert.deepEqual(install.kind === 'RUN' && install.command, {
      form: 'shell',
      text: 'if [ -f package-lock.json ]; then npm ci;   else npm install;   fi',
    });
    const legacy = findStage(d, 'builder').instructions[3]!;
    assert.deepEqual(legacy.kind === 'ENV' && legacy.pairs, [{ key: 'NEXT_TELEMETRY_DISABLED', value: '1' }]);
    const runner = findStage(d, 'runner').instructions;
    assert.deepEqual(runner[8]!.kind === 'ENV' && runner[8]!.pairs, [
      { key: 'PORT', value: '3000' },
      { key: 'HOSTNAME', value: '"0.0.0.0"' },
    ]);
    assert.equal(runner[9]!.kind === 'LABEL' && runner[9]!.pairs.length, 2);
    assert.deepEqual(runner[10]!.kind === 'CMD' && runner[10]!.command, { form: 'exec', argv: ['node', 'server.js'] });
  });

  test('Python with heredocs: a script, a chomped script, quoted and unquoted COPY bodies, stdin to python', () => {
    const d = load('python-heredoc.Dockerfile');
    assert.deepEqual(shape(d), [
      ['builder', 'ENV WORKDIR COPY RUN'],
      [1, 'ARG COPY ENV RUN COPY COPY RUN WORKDIR COPY USER VOLUME EXPOSE HEALTHCHECK CMD'],
    ]);
    const final = d.stages[1]!.instructions;
    const chomped = final[3]!;
    assert.deepEqual(chomped.kind === 'RUN' && chomped.heredocs, [
      { name: 'EOF', content: 'set -e\nuseradd --create-home ${APP_USER}\nmkdir -p /srv/app\n', expand: true, chomp: true },
    ]);
    const settings = final[4]!;
    assert.deepEqual(settings.kind === 'COPY' && [settings.dest, settings.heredocs[0]!.expand, settings.heredocs[0]!.content], [
      '/etc/app/settings.toml',
      false,
      '[server]\nhost = "0.0.0.0"\nport = 8000\n',
    ]);
    const banner = expandInstruction(final[5]!, (n) => ({ APP_USER: 'app' })[n], d.escape);
    assert.equal(banner.kind === 'COPY' && banner.heredocs[0]!.content, 'Running as app\n');
    const stdin = final[6]!;
    assert.deepEqual(stdin.kind === 'RUN' && [stdin.command, stdin.heredocs[0]!.name], [{ form: 'shell', text: 'python3 <<PY' }, 'PY']);
    assert.equal(stdin.endLine, 32);
  });

  test('Windows-style with the backtick escape', () => {
    const d = load('windows-escape.Dockerfile');
    assert.equal(d.escape, '`');
    assert.deepEqual(shape(d), [[0, 'SHELL ENV WORKDIR RUN COPY CMD']]);
    const [, env, workdir, run, copy, cmd] = d.stages[0]!.instructions;
    assert.deepEqual(env!.kind === 'ENV' && env!.pairs, [{ key: 'TOOLS_DIR', value: 'C:\\tools' }]);
    assert.equal(workdir!.kind === 'WORKDIR' && workdir!.path, 'C:\\app');
    assert.equal(run!.kind === 'RUN' && run!.command.form === 'shell' && run!.command.text.split('    ').length, 3);
    assert.deepEqual(copy!.kind === 'COPY' && [copy!.sources, copy!.dest], [['app\\'], 'C:\\app\\']);
    assert.deepEqual(cmd!.kind === 'CMD' && cmd!.command, { form: 'exec', argv: ['C:\\app\\server.exe'] });
    const expandedEnv = expandInstruction(env!, () => undefined, d.escape);
    assert.deepEqual(expandedEnv.kind === 'ENV' && expandedEnv.pairs, [{ key: 'TOOLS_DIR', value: 'C:\\tools' }]);
  });
});
