// End to end: build a pack component with componentize-js, run it (transpiled to JS + core wasm
// by jco, so SpiderMonkey-in-wasm executes the rules) and compare with the same rules run in
// Node. Needs the npm dependencies (`npm ci`); skipped without them. Takes ~10 s.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { build, loadPack, testHost } from '../src/index.js';

const WIT = fileURLToPath(new URL('../../../wit', import.meta.url));

let jco = null;
try {
  jco = await import('@bytecodealliance/jco');
  await import('@bytecodealliance/componentize-js');
} catch {
  jco = null;
}

const RULES = `
const T = { title: "t", severity: "low", resourceTypes: ["T"] };
rule({ ...T, id: "C.Pass", message: (r) => \`\${r.Name} is not ok\` }, (r) => r.Ok === true);
rule({ ...T, id: "C.Default" }, (r) => r.Ok === true);
rule({ ...T, id: "C.Junk" }, (r) => r.Value);
rule({ ...T, id: "C.String" }, () => { throw "a string"; });
rule({ ...T, id: "C.Custom" }, () => { throw new RangeError("out of range"); });
rule({ ...T, id: "C.Recurse" }, function recurse(r) { return recurse(r); });
rule({ ...T, id: "C.Host", message: (r) => \`at \${now().toISOString()} \${ageDays("2025-12-01T00:00:00Z")}d peer \${JSON.stringify(lookup(r.Peer))}\` },
  (r) => { log("info", "checking " + r.ResourceId); return lookup(r.Peer)?.Ok === true; });
rule({ ...T, id: "C.Settings", settings: [{ name: "n", kind: "integer", default: 3 }], message: (r, s) => \`n=\${s.n}\` },
  (r, s) => s.n < 3);
rule({ ...T, id: "C.Helpers" }, (r) => {
  const doc = PolicyDocument.parse(r.Policy);
  return !doc.grantsAdmin() && cidrContains("2001:db8::/32", r.Cidr) && parseTime(r.Created).getUTCFullYear() === 2024 &&
    deepGet(r, "Perms", "Ranges", "Cidr").every((c) => !isWorldCidr(c));
});
rule({ ...T, id: "C.Big", message: () => "é".repeat(5000) }, () => false);
`;

const DOCS = [
  { ResourceId: 'c1', ResourceType: 'T', Name: 'one', Ok: true, Value: 'yes', Peer: 'c2', Policy: { Statement: [] },
    Cidr: '2001:db8:1::/48', Created: '2024-03-01T00:00:00Z', Perms: [{ Ranges: [{ Cidr: '10.0.0.0/8' }] }] },
  { ResourceId: 'c2', ResourceType: 'T', Name: 'two', Ok: false, Peer: 'nope',
    Policy: '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}', Cidr: '10.0.0.0/8' },
  { ResourceId: 'c3', ResourceType: 'T', Name: 'three', Ok: true, Peer: 'c1', CollectionErrors: { Ok: 'AccessDenied' },
    Policy: { Statement: [] }, Cidr: '2001:db8::1', Created: '2024-01-01T00:00:00Z', Perms: [{ Ranges: [{ Cidr: '0.0.0.0/0' }] }] },
];
const TEXTS = [...DOCS.map((d) => JSON.stringify(d)), '{broken'];

// Engine-specific wording (V8 in Node, SpiderMonkey in the component).
const ENGINE_SPECIFIC = new Set(['C.Recurse']);

describe('a built component', { skip: jco ? false : 'npm dependencies not installed (npm ci)' }, () => {
  let work, component, node, hostA, hostB;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'palisade-policy-component-'));
    await mkdir(join(work, 'pack'));
    await writeFile(join(work, 'pack', 'rules.js'), RULES);
    const out = join(work, 'pack.wasm');
    await build({ dir: join(work, 'pack'), out, wit: WIT });
    const { files } = await jco.transpile(await readFile(out), { name: 'pack', instantiation: 'async', noTypescript: true, quiet: true });
    for (const [name, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(work, 'js', name)), { recursive: true });
      await writeFile(join(work, 'js', name), bytes);
    }
    const { instantiate } = await import(pathToFileURL(join(work, 'js', 'pack.js')).href);
    const hostFor = () => testHost({ now: '2026-01-01T00:00:00Z', resources: DOCS });
    hostA = hostFor();
    hostB = hostFor();
    const root = await instantiate(async (name) => WebAssembly.compile(await readFile(join(work, 'js', name))), {
      'palisade:policy/host': hostA,
      'palisade:policy/types': {},
    });
    component = root.rules;
    node = (await loadPack(join(work, 'pack'), hostB)).exports;
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('describes the same rules', () => {
    assert.deepEqual(component.describe(), node.describe());
  });

  it('gives the same verdicts as the rules run in Node', () => {
    const requests = node.describe().map((r) => ({ ruleId: r.id, settingsJson: r.id === 'C.Settings' ? '{"n": 1}' : '' }));
    requests.push({ ruleId: 'C.Unknown', settingsJson: '' });
    const got = component.evaluateBatch(requests, 'T', TEXTS);
    const want = node.evaluateBatch(requests, 'T', TEXTS);
    assert.equal(got.length, requests.length * TEXTS.length);
    for (let i = 0; i < want.length; i++) {
      const id = requests[want[i].rule].ruleId;
      assert.equal(got[i].rule, want[i].rule);
      assert.equal(got[i].document, want[i].document);
      assert.equal(got[i].verdict.status, want[i].verdict.status, `${id} on document ${want[i].document}`);
      if (ENGINE_SPECIFIC.has(id) && want[i].document < DOCS.length) {
        assert.equal(got[i].verdict.message, 'InternalError: too much recursion');
      } else if (want[i].document === DOCS.length && id !== 'C.Unknown') {
        assert.match(got[i].verdict.message, /^resource document is not valid JSON: /);
      } else {
        assert.equal(got[i].verdict.message ?? undefined, want[i].verdict.message, `${id} on document ${want[i].document}`);
      }
    }
    assert.deepEqual(hostA.logs, hostB.logs);
    assert.deepEqual(hostA.lookups, hostB.lookups);
  });

  it('evaluate agrees with evaluateBatch', () => {
    for (const ruleId of ['C.Pass', 'C.Default', 'C.Host', 'C.Helpers']) {
      for (const text of TEXTS.slice(0, DOCS.length)) {
        const one = component.evaluate({ ruleId, settingsJson: '' }, 'T', text);
        const [batch] = component.evaluateBatch([{ ruleId, settingsJson: '' }], 'T', [text]);
        assert.deepEqual(one, batch.verdict);
      }
    }
  });

  it('caps long messages to 4 KiB', () => {
    const v = component.evaluate({ ruleId: 'C.Big', settingsJson: '' }, 'T', TEXTS[0]);
    assert.ok(Buffer.byteLength(v.message) <= 4096);
    assert.ok(v.message.endsWith('...'));
  });
});
