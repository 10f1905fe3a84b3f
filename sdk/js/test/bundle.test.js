import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BuildError, HOST_IMPORT, bundle, loadPack, ruleFiles, testHost } from '../src/index.js';

const CLI = fileURLToPath(new URL('../bin/palisade-policy-js.mjs', import.meta.url));
const dirs = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A pack folder holding `files` (name -> text). */
async function packDir(files) {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-policy-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    if (name.endsWith('/')) await mkdir(join(dir, name));
    else await writeFile(join(dir, name), text);
  }
  return dir;
}

const bucketRule = `
const WANTED = "AES256";  // block-scoped: other files may use the same name
rule({ id: "A.Bucket", title: "bucket", severity: "low", resourceTypes: ["AWS.S3.Bucket"] },
  (b) => deepGet(b, "EncryptionRules", "ApplyServerSideEncryptionByDefault", "SSEAlgorithm")?.includes(WANTED) === true);
`;
const groupRule = `
const WANTED = "0.0.0.0/0";
function open(group) {
  return (deepGet(group, "IpPermissions", "IpRanges", "CidrIp") ?? []).some((c) => c === WANTED || isWorldCidr(c));
}
rule({ id: "B.Group", title: "group", severity: "high", resourceTypes: ["AWS.EC2.SecurityGroup"],
  message: (g) => \`\${g.Name} is open\` }, (g) => !open(g));
`;

describe('bundling', () => {
  it('picks top-level *.js files except _*.js and *.test.js, in name order', async () => {
    const dir = await packDir({
      'b.js': groupRule, 'a.js': bucketRule, '_shared.js': 'nope(', 'a.test.js': 'nope(', 'notes.md': '',
      'sub/': '', '.hidden.js': 'nope(',
    });
    await writeFile(join(dir, 'sub', 'c.js'), 'nope(');
    assert.deepEqual(await ruleFiles(dir), ['a.js', 'b.js']);
  });

  it('makes one module: host import, runtime, each file in its own block, the rules export', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': groupRule });
    const { source, files, locate } = await bundle(dir);
    assert.deepEqual(files, ['a.js', 'b.js']);
    const imports = source.match(/^import .*$/gm);
    assert.deepEqual(imports, [
      `import { log as __palisadeHostLog, now as __palisadeHostNow, lookup as __palisadeHostLookup } from '${HOST_IMPORT}';`,
    ]);
    assert.deepEqual(source.match(/^export .*$/gm), ['export const rules = __palisadePack.exports;']);
    assert.match(source, /\/\/ ---- rule file: a\.js\n__palisadePack\.setSource\("a\.js"\);\n\{\n\nconst WANTED/);
    const line = source.split('\n').findIndex((l) => l.includes('const WANTED = "0.0.0.0/0"')) + 1;
    assert.deepEqual(locate(line), { file: 'b.js', line: 2 });
    // It parses as a module.
    const check = spawnSync(process.execPath, ['--input-type=module', '--check'], { input: source, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });

  it('runs in Node with a test host, exactly as in the component', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': groupRule });
    const pack = await loadPack(dir, testHost());
    assert.deepEqual(pack.rules.map((r) => r.id), ['A.Bucket', 'B.Group']);
    const sg = { ResourceId: 'sg-1', ResourceType: 'AWS.EC2.SecurityGroup', Name: 'web',
      IpPermissions: [{ IpRanges: [{ CidrIp: '10.0.0.0/8' }] }, { IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] };
    assert.deepEqual(pack.check('B.Group', sg), { status: 'fail', message: 'web is open' });
    const bucket = { ResourceId: 'b', ResourceType: 'AWS.S3.Bucket',
      EncryptionRules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] };
    assert.deepEqual(pack.check('A.Bucket', bucket), { status: 'pass' });
    const out = pack.exports.evaluateBatch([{ ruleId: 'A.Bucket', settingsJson: '{}' }], 'AWS.S3.Bucket',
      [JSON.stringify(bucket), JSON.stringify({ ...bucket, CollectionErrors: { EncryptionRules: 'denied' } })]);
    assert.deepEqual(out.map((o) => o.verdict.status), ['pass', 'error']);
  });

  it('two loads of one folder are independent packs', async () => {
    const dir = await packDir({ 'a.js': bucketRule });
    const [one, two] = await Promise.all([loadPack(dir, testHost()), loadPack(dir, testHost())]);
    assert.notEqual(one, two);
    assert.equal(one.rules.length, 1);
    assert.equal(two.rules.length, 1);
  });

  it('rejects import and export in rule files, naming the line', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': '// helpers\nimport { x } from "./_x.js";\n' });
    await assert.rejects(bundle(dir), (e) => e instanceof BuildError && /^b\.js:2: rule files cannot use import or export/.test(e.message));
    const dir2 = await packDir({ 'a.js': 'export const x = 1;\n' });
    await assert.rejects(bundle(dir2), /^BuildError: a\.js:1: rule files cannot use import/);
  });

  it('reports syntax errors at the rule file and line', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': 'const ok = 1;\nrule({ id: "X" ;\n' });
    await assert.rejects(loadPack(dir, testHost()), (e) => {
      assert.match(e.message, /^syntax error in b\.js:2:/);
      return true;
    });
  });

  it('reports registration and top-level errors at the rule file', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': 'rule({ id: "A.Bucket", title: "again", severity: "low", resourceTypes: ["T"] }, () => true);\n' });
    await assert.rejects(loadPack(dir, testHost()), /b\.js: rule A\.Bucket: duplicate rule id \(also registered in a\.js\)/);
    const dir2 = await packDir({ 'a.js': '\n\nundefinedHelper();\n' });
    await assert.rejects(loadPack(dir2, testHost()), /ReferenceError: undefinedHelper is not defined[\s\S]*a\.js:3:/);
  });

  it('fails on an empty folder', async () => {
    const dir = await packDir({ 'README.md': '' });
    await assert.rejects(bundle(dir), /no rule files/);
  });
});

describe('the command', () => {
  const run = (...args) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('describes a pack', async () => {
    const dir = await packDir({ 'a.js': bucketRule, 'b.js': groupRule });
    const r = run('describe', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).map((x) => x.id), ['A.Bucket', 'B.Group']);
  });

  it('explains usage errors', () => {
    const r = run('build', '/nonexistent');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /build needs -o <out\.wasm>/);
    const noWit = run('build', '/nonexistent', '-o', '/tmp/x.wasm');
    assert.match(noWit.stderr, /build needs --wit/);
  });

  it('reports build errors without a stack', async () => {
    const dir = await packDir({ 'a.js': 'rule({ id: "A" }, () => true);\n' });
    const r = run('build', dir, '-o', join(dir, 'out.wasm'), '--wit', fileURLToPath(new URL('../../../wit', import.meta.url)));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^palisade-policy-js: error: loading the rule files failed: TypeError: a\.js: rule A: `title` must be a non-empty string/);
  });
});
