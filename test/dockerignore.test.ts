import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IgnoreMatcher, parseDockerignore } from '../engine/image/context/dockerignore.js';
import { StackError } from '../engine/errors.js';

const excluded = (patterns: string[], path: string) => new IgnoreMatcher(patterns).matches(path);

describe('parseDockerignore', () => {
  test('comments, blank lines, trimming, cleaning, leading slash and exceptions (ignorefile.ReadAll)', () => {
    const text = 'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ';
    assert.deepEqual(parseDockerignore(text), ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path', '!', '!']);
  });

  test('a BOM, CRLF, path cleaning and a # that is not in the first column', () => {
    const text = '\uFEFFnode_modules/\r\n  ./dist//x/../y  \r\n  # not a comment\r\n/\r\n**/*.log\r\n';
    assert.deepEqual(parseDockerignore(text), ['node_modules', 'dist/y', '# not a comment', '/', '**/*.log']);
  });
});

describe('IgnoreMatcher', () => {
  // patternmatcher_test.go TestMatches, single patterns
  const single: [string, string, boolean][] = [
    ['**', 'file', true],
    ['**', 'file/', true],
    ['**/', 'file', true],
    ['**/', 'file/', true],
    ['**', '/', true],
    ['**/', '/', true],
    ['**', 'dir/file', true],
    ['**/', 'dir/file', true],
    ['**', 'dir/file/', true],
    ['**/', 'dir/file/', true],
    ['**/**', 'dir/file', true],
    ['**/**', 'dir/file/', true],
    ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/file/', true],
    ['dir/**', 'dir/dir2/file', true],
    ['dir/**', 'dir/dir2/file/', true],
    ['**/dir', 'dir', true],
    ['**/dir', 'dir/file', true],
    ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/*', 'dir/dir2/file/', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true],
    ['**/dir2/**', 'dir/dir2/dir3/file/', true],
    ['**file', 'file', true],
    ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true],
    ['**file', 'dir/dir/file', true],
    ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt', 'dir/dir/file.txt', true],
    ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false],
    ['**/*.txt', 'file.txt', true],
    ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true],
    ['a**/*.txt', 'a/dir/file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false],
    ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false],
    ['a[b-d]e', 'ace', true],
    ['a[b-d]e', 'aae', false],
    ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true],
    ['.*', 'foo', false],
    ['abc.def', 'abcdef', false],
    ['abc.def', 'abc.def', true],
    ['abc.def', 'abcZdef', false],
    ['abc?def', 'abcZdef', true],
    ['abc?def', 'abcdef', false],
    ['a\\\\', 'a\\', true],
    ['**/foo/bar', 'foo/bar', true],
    ['**/foo/bar', 'dir/foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false],
    ['abc/**', 'abc/def', true],
    ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true],
    ['**/.foo', 'bar.foo', false],
    ['a(b)c/def', 'a(b)c/def', true],
    ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['a\\*b', 'a*b', true],
    // Go's filepath.Match table, through the matcher
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', true],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['*x', 'xxx', true],
    // docker's patterns are not gitignore's: [!...] is a class containing "!", not a negation
    ['[!a]', '!', true],
    ['[!a]', 'b', false],
  ];
  for (const [pattern, path, want] of single) {
    test(`${JSON.stringify(pattern)} ${want ? 'excludes' : 'keeps'} ${JSON.stringify(path)}`, () => {
      assert.equal(excluded([pattern], path), want);
    });
  }

  test('several patterns: the last match wins, exceptions re-include', () => {
    const cases: [string[], string, boolean][] = [
      [['**', '!util/docker/web'], 'util/docker/web/foo', false],
      [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
      [['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
      [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
      [['*'], 'fileutils.go', true],
      [['*.go'], 'fileutils.go', true],
      [['!fileutils.go', '*.go'], 'fileutils.go', true],
      [['docs', '!docs/README.md'], 'docs/README.md', false],
      [['docs/', '!docs/README.md'], 'docs/README.md', false],
      [['docs/*', '!docs/README.md'], 'docs/README.md', false],
      [['*.go', '!fileutils.go'], 'fileutils.go', false],
      [['*.go'], '.', false],
      [[], 'any/path/there', false],
      [['docs', '  !docs/README.md  ', ''], 'docs/README.md', false],
    ];
    for (const [patterns, path, want] of cases) assert.equal(excluded(patterns, path), want, `${JSON.stringify(patterns)} ${path}`);
  });

  test('a pattern matching a parent directory excludes everything below it', () => {
    const m = new IgnoreMatcher(['node_modules', 'build/*/cache']);
    assert.ok(m.matches('node_modules'));
    assert.ok(m.matches('node_modules/a/b/c.js'));
    assert.ok(!m.matches('src/node_modules_list.txt'));
    assert.ok(m.matches('build/x/cache/deep/file'));
    assert.ok(!m.matches('build/x/y/cache'));
  });

  test('malformed patterns are rejected when the matcher is built', () => {
    for (const bad of ['[', '[^', '[^bc', 'a[', '[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '!', '[Local-Only]/']) {
      assert.throws(
        () => new IgnoreMatcher([bad]),
        (e: unknown) => e instanceof StackError && e.kind === 'invalid' && e.message.includes(bad === '!' ? '"!"' : bad.replace(/\/$/, '')),
        bad,
      );
    }
  });

  test('canSkipDir: only when the dir is excluded and no exception can reach inside', () => {
    const plain = new IgnoreMatcher(['node_modules', 'vendor/**']);
    assert.ok(plain.canSkipDir('node_modules'));
    assert.ok(plain.canSkipDir('node_modules/pkg'));
    assert.ok(plain.canSkipDir('vendor/lib'));
    assert.ok(!plain.canSkipDir('src'), 'a kept dir is walked');
    assert.ok(!plain.canSkipDir('vendor'), 'vendor/** excludes what is inside vendor, not vendor itself');

    const exceptions = new IgnoreMatcher(['docs', '!docs/api/README.md', '*.tmp', '!keep/**']);
    assert.ok(!exceptions.canSkipDir('docs'), 'an exception lives below docs');
    assert.ok(!exceptions.canSkipDir('docs/api'));
    assert.ok(exceptions.canSkipDir('docs/guide'), 'no exception reaches docs/guide');
    assert.ok(exceptions.matches('docs/api/other.md') && !exceptions.matches('docs/api/README.md'));

    // an exception with wildcards could match anything, so nothing is skipped once one exists
    const wild = new IgnoreMatcher(['docs', '!**/*.md']);
    assert.ok(!wild.canSkipDir('docs'));
    assert.ok(!wild.matches('docs/a.md') && wild.matches('docs/a.txt'));
  });
});
