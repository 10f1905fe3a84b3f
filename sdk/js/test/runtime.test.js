import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CollectionError, MAX_MESSAGE_BYTES, capMessage, createPack, testHost } from '../src/index.js';

const req = (ruleId, settingsJson = '') => ({ ruleId, settingsJson });

/** A pack with a few rules covering every outcome. */
function fixture(host = testHost()) {
  const pack = createPack(host);
  pack.rule({
    id: 'T.Encrypted', title: 'encrypted', severity: 'high', resourceTypes: ['T.Bucket'],
    message: (r) => `bucket ${r.Name ?? ''} has no default encryption`,
  }, (r) => Array.isArray(r.EncryptionRules) && r.EncryptionRules.length > 0);
  pack.rule({ id: 'T.Default', title: 'default message', severity: 'low', resourceTypes: ['T.Bucket', 'T.Key'] },
    (r) => r.Ok === true);
  pack.rule({ id: 'T.Returns', title: 'returns junk', severity: 'info', resourceTypes: ['T.Bucket'] },
    (r) => r.Value);
  pack.rule({ id: 'T.Throws', title: 'throws', severity: 'info', resourceTypes: ['T.Bucket'] },
    (r) => r.Missing.Deeper);
  pack.rule({
    id: 'T.Age', title: 'age', severity: 'medium', resourceTypes: ['T.Key'],
    settings: [{ name: 'max-age-days', kind: 'integer', default: 90, description: 'days' }],
    message: (r, settings) => `${r.Name} is older than ${settings['max-age-days']} days`,
  }, (r, settings) => pack.ageDays(r.TimeCreated) <= settings['max-age-days']);
  pack.rule({ id: 'T.Peer', title: 'peer', severity: 'info', resourceTypes: ['T.Key'], defaultEnabled: false },
    (r) => {
      pack.log('info', `looking up ${r.Peer}`);
      const peer = pack.lookup(r.Peer);
      return peer !== null && peer.Enabled === true;
    });
  return pack;
}

const doc = (fields) => JSON.stringify({ ResourceId: 'arn:r', AccountId: '123456789012', Region: 'us-east-1', ...fields });

describe('outcomes', () => {
  const pack = fixture();
  const ev = (id, fields, type = 'T.Bucket', settings = '') => pack.exports.evaluate(req(id, settings), type, doc(fields));

  it('true is pass, with no message', () => {
    assert.deepEqual(ev('T.Encrypted', { EncryptionRules: [{}] }), { status: 'pass' });
  });

  it('false is fail with the rule message', () => {
    assert.deepEqual(ev('T.Encrypted', { Name: 'logs', EncryptionRules: [] }), {
      status: 'fail', message: 'bucket logs has no default encryption',
    });
    assert.equal(ev('T.Encrypted', { Name: null }).message, 'bucket  has no default encryption');
  });

  it('false without a message function names the resource and the rule', () => {
    assert.deepEqual(ev('T.Default', { Ok: false }), { status: 'fail', message: 'arn:r does not comply with T.Default' });
  });

  it('anything but a boolean is an error', () => {
    assert.deepEqual(ev('T.Returns', { Value: 'yes' }), { status: 'error', message: 'policy returned string, not a bool' });
    assert.equal(ev('T.Returns', {}).message, 'policy returned undefined, not a bool');
    assert.equal(ev('T.Returns', { Value: null }).message, 'policy returned null, not a bool');
    assert.equal(ev('T.Returns', { Value: 1 }).message, 'policy returned number, not a bool');
    assert.equal(ev('T.Returns', { Value: [true] }).message, 'policy returned array, not a bool');
  });

  it('an exception is an error naming it', () => {
    const v = ev('T.Throws', {});
    assert.equal(v.status, 'error');
    assert.match(v.message, /^TypeError: .*Deeper/);
    const p = createPack(testHost());
    p.rule({ id: 'E', title: 'e', severity: 'low', resourceTypes: ['T'] }, () => { throw new RangeError(); });
    assert.deepEqual(p.exports.evaluate(req('E'), 'T', doc({})), { status: 'error', message: 'RangeError' });
  });

  it('a message function returning nothing gives the default message', () => {
    const p = createPack(testHost());
    p.rule({ id: 'M', title: 'm', severity: 'low', resourceTypes: ['T'], message: () => undefined }, () => false);
    assert.deepEqual(p.exports.evaluate(req('M'), 'T', doc({})), { status: 'fail', message: 'arn:r does not comply with M' });
  });

  it('an unknown rule or a rule of another type is an error', () => {
    assert.deepEqual(ev('T.Nope', {}), { status: 'error', message: 'this pack has no rule T.Nope' });
    assert.deepEqual(ev('T.Age', {}, 'T.Bucket'), { status: 'error', message: 'T.Age does not apply to T.Bucket' });
  });

  it('a malformed document is an error', () => {
    const e = pack.exports.evaluate(req('T.Encrypted'), 'T.Bucket', '{"EncryptionRules": [');
    assert.equal(e.status, 'error');
    assert.match(e.message, /^resource document is not valid JSON: /);
    assert.deepEqual(pack.exports.evaluate(req('T.Encrypted'), 'T.Bucket', '[1]'), {
      status: 'error', message: 'resource document is not a JSON object',
    });
  });

  it('long messages are capped to 4 KiB of UTF-8', () => {
    const m = capMessage('é'.repeat(5000));
    assert.ok(Buffer.byteLength(m) <= MAX_MESSAGE_BYTES);
    assert.ok(m.endsWith('...'));
    const emoji = capMessage('😀'.repeat(2000));
    assert.ok(Buffer.byteLength(emoji) <= MAX_MESSAGE_BYTES);
    assert.ok(!emoji.slice(0, -3).endsWith('\ud83d'), 'never splits a surrogate pair');
    assert.equal(capMessage('short'), 'short');
    const exact = 'a'.repeat(MAX_MESSAGE_BYTES);
    assert.equal(capMessage(exact), exact);
  });
});

describe('CollectionErrors', () => {
  const pack = fixture();
  const ev = (id, fields) => pack.exports.evaluate(req(id), 'T.Bucket', doc(fields));

  it('reading a field that was not collected is an error, never a pass', () => {
    const v = ev('T.Encrypted', { Name: 'b', EncryptionRules: null, CollectionErrors: { EncryptionRules: 'AccessDenied: GetBucketEncryption' } });
    assert.deepEqual(v, { status: 'error', message: 'EncryptionRules was not collected: AccessDenied: GetBucketEncryption' });
  });

  it('asking whether the field is there is a read too', () => {
    const p = createPack(testHost());
    p.rule({ id: 'In', title: 'i', severity: 'low', resourceTypes: ['T'] }, (r) => !('Policy' in r));
    assert.equal(p.exports.evaluate(req('In'), 'T', doc({ CollectionErrors: { Policy: 'denied' } })).message,
      'Policy was not collected: denied');
    assert.deepEqual(p.exports.evaluate(req('In'), 'T', doc({ CollectionErrors: { Other: 'denied' } })), { status: 'pass' });
  });

  it('other fields read normally', () => {
    const v = ev('T.Encrypted', { Name: 'b', EncryptionRules: [{}], CollectionErrors: { Policy: 'AccessDenied' } });
    assert.deepEqual(v, { status: 'pass' });
  });

  it('also guards the fail message', () => {
    const v = ev('T.Encrypted', { EncryptionRules: [], CollectionErrors: { Name: 'throttled' } });
    assert.deepEqual(v, { status: 'error', message: 'Name was not collected: throttled' });
  });

  it('null, empty or null-valued CollectionErrors block nothing', () => {
    for (const errors of [null, {}, { EncryptionRules: null }]) {
      assert.deepEqual(ev('T.Encrypted', { EncryptionRules: [{}], CollectionErrors: errors }), { status: 'pass' });
    }
  });

  it('non-string reasons are shown as JSON', () => {
    const v = ev('T.Encrypted', { CollectionErrors: { EncryptionRules: { code: 403 } } });
    assert.equal(v.message, 'EncryptionRules was not collected: {"code":403}');
  });

  it('malformed CollectionErrors make the document an error', () => {
    const v = ev('T.Encrypted', { EncryptionRules: [{}], CollectionErrors: ['EncryptionRules'] });
    assert.deepEqual(v, { status: 'error', message: 'CollectionErrors is not an object of reasons (got array)' });
  });

  it('policies may read CollectionErrors itself', () => {
    const p = createPack(testHost());
    p.rule({ id: 'X', title: 'x', severity: 'low', resourceTypes: ['T'] }, (r) => Object.keys(r.CollectionErrors).length === 1);
    assert.deepEqual(p.exports.evaluate(req('X'), 'T', doc({ CollectionErrors: { A: 'denied' } })), { status: 'pass' });
  });

  it('is an error even when the policy catches it and decides', () => {
    const p = createPack(testHost());
    p.rule({ id: 'Sneaky', title: 's', severity: 'low', resourceTypes: ['T'] }, (r) => {
      try {
        return r.Policy === null;
      } catch {
        return true;
      }
    });
    p.rule({ id: 'Junk', title: 'j', severity: 'low', resourceTypes: ['T'] }, (r) => {
      try {
        return r.Policy;
      } catch {
        return 'dunno';
      }
    });
    const d = doc({ Policy: null, CollectionErrors: { Policy: 'AccessDenied' } });
    const out = p.exports.evaluateBatch([req('Sneaky'), req('Junk')], 'T', [d, doc({ Policy: null })]);
    assert.deepEqual(out.map((o) => o.verdict), [
      { status: 'error', message: 'Policy was not collected: AccessDenied' },
      { status: 'error', message: 'policy returned string, not a bool' },
      { status: 'pass' },
      { status: 'error', message: 'policy returned null, not a bool' },
    ]);
  });

  it('a policy can tell CollectionError apart', () => {
    const p = createPack(testHost());
    let caught;
    p.rule({ id: 'X', title: 'x', severity: 'low', resourceTypes: ['T'] }, (r) => {
      try {
        return r.A === 1;
      } catch (e) {
        caught = e;
        throw e;
      }
    });
    p.exports.evaluate(req('X'), 'T', doc({ CollectionErrors: { A: 'denied' } }));
    assert.ok(caught instanceof CollectionError);
    assert.equal(caught.field, 'A');
    assert.equal(caught.reason, 'denied');
  });
});

describe('evaluateBatch', () => {
  it('returns one outcome per rule and document, parsing each document once', () => {
    const pack = fixture();
    const parse = JSON.parse;
    let parses = 0;
    JSON.parse = (...args) => {
      parses++;
      return parse(...args);
    };
    let outcomes;
    try {
      outcomes = pack.exports.evaluateBatch(
        [req('T.Encrypted'), req('T.Default'), req('T.Nope'), req('T.Throws')],
        'T.Bucket',
        [doc({ Name: 'a', EncryptionRules: [{}], Ok: true }), '{not json', doc({ Name: 'c', EncryptionRules: [] })],
      );
    } finally {
      JSON.parse = parse;
    }
    assert.equal(parses, 3, 'one JSON.parse per document');
    assert.equal(outcomes.length, 12);
    const at = (r, d) => outcomes.find((o) => o.rule === r && o.document === d).verdict;
    assert.deepEqual(at(0, 0), { status: 'pass' });
    assert.deepEqual(at(1, 0), { status: 'pass' });
    assert.deepEqual(at(2, 0), { status: 'error', message: 'this pack has no rule T.Nope' });
    assert.equal(at(3, 0).status, 'error');
    for (const r of [0, 1, 3]) assert.match(at(r, 1).message, /not valid JSON/);
    assert.equal(at(2, 1).message, 'this pack has no rule T.Nope', 'a request error outranks a bad document');
    assert.deepEqual(at(0, 2), { status: 'fail', message: 'bucket c has no default encryption' });
    assert.equal(at(1, 2).message, 'arn:r does not comply with T.Default');
  });

  it('handles empty batches', () => {
    const pack = fixture();
    assert.deepEqual(pack.exports.evaluateBatch([], 'T.Bucket', [doc({})]), []);
    assert.deepEqual(pack.exports.evaluateBatch([req('T.Encrypted')], 'T.Bucket', []), []);
  });

  it('works without `this` (exports are called as plain functions)', () => {
    const { evaluateBatch, evaluate, describe: describeRules } = fixture().exports;
    assert.equal(evaluateBatch([req('T.Default')], 'T.Bucket', [doc({ Ok: true })])[0].verdict.status, 'pass');
    assert.equal(evaluate(req('T.Default'), 'T.Bucket', doc({ Ok: true })).status, 'pass');
    assert.equal(describeRules().length, 6);
  });

  it('never throws, whatever a policy does', () => {
    const pack = createPack(testHost());
    const weird = [
      () => { throw 'a string'; },
      () => { throw null; },
      () => { throw { toString() { throw new Error('nope'); } }; },
      () => { const e = new RangeError('too big'); e.name = 42; throw e; },
      function recurse() { return recurse(); },
    ];
    weird.forEach((fn, i) => pack.rule({ id: `W${i}`, title: 'w', severity: 'low', resourceTypes: ['T'] }, fn));
    const outcomes = pack.exports.evaluateBatch(weird.map((_, i) => req(`W${i}`)), 'T', [doc({})]);
    assert.deepEqual(outcomes.map((o) => o.verdict.message), [
      'Error: a string',
      'Error: null',
      'Error: an exception that cannot be printed',
      'Error: too big',
      'RangeError: Maximum call stack size exceeded',
    ]);
  });
});

describe('settings', () => {
  const pack = fixture();
  const key = doc({ Name: 'k', TimeCreated: '2025-11-01T00:00:00Z' });

  it('defaults apply and operator values override them', () => {
    assert.deepEqual(pack.exports.evaluate(req('T.Age', ''), 'T.Key', key), { status: 'pass' });
    assert.deepEqual(pack.exports.evaluate(req('T.Age', '{}'), 'T.Key', key), { status: 'pass' });
    assert.deepEqual(pack.exports.evaluate(req('T.Age', '{"max-age-days": 30}'), 'T.Key', key), {
      status: 'fail', message: 'k is older than 30 days',
    });
  });

  it('invalid settings are errors', () => {
    assert.match(pack.exports.evaluate(req('T.Age', '[1'), 'T.Key', key).message, /^rule settings are not valid JSON/);
    assert.equal(pack.exports.evaluate(req('T.Age', '[1]'), 'T.Key', key).message, 'rule settings must be a JSON object');
    assert.equal(pack.exports.evaluate(req('T.Age', '{"max-age-days": "x"}'), 'T.Key', key).message,
      'setting `max-age-days` of T.Age is invalid: expected integer, got "x"');
  });

  it('settings are frozen', () => {
    const p = createPack(testHost());
    p.rule({ id: 'M', title: 'm', severity: 'low', resourceTypes: ['T'], settings: [{ name: 'l', kind: 'text-list', default: ['a'] }] },
      (r, s) => { s.l.push('b'); return true; });
    assert.match(p.exports.evaluate(req('M'), 'T', doc({})).message, /^TypeError/);
  });

  it('describe carries every field', () => {
    const info = pack.exports.describe();
    const age = info.find((r) => r.id === 'T.Age');
    assert.deepEqual(age, {
      id: 'T.Age', title: 'age', severity: 'medium', resourceTypes: ['T.Key'], description: '', remediation: '',
      references: [], compliance: [], defaultEnabled: true,
      settings: [{ name: 'max-age-days', description: 'days', kind: 'integer', defaultJson: '90' }],
    });
    assert.equal(info.find((r) => r.id === 'T.Peer').defaultEnabled, false);
  });
});

describe('host services', () => {
  it('lookup parses the other resource, null when absent', () => {
    const host = testHost({ resources: [{ ResourceId: 'peer-1', Enabled: true }, { ResourceId: 'peer-2', Enabled: false }] });
    const pack = fixture(host);
    const ev = (peer) => pack.exports.evaluate(req('T.Peer'), 'T.Key', doc({ Peer: peer }));
    assert.equal(ev('peer-1').status, 'pass');
    assert.equal(ev('peer-2').status, 'fail');
    assert.equal(ev('peer-3').status, 'fail');
    assert.deepEqual(host.lookups, ['peer-1', 'peer-2', 'peer-3']);
    assert.deepEqual(host.logs[0], ['info', 'looking up peer-1']);
  });

  it('looked-up resources are guarded too, and bad lookups are errors', () => {
    const host = testHost({ resources: [{ ResourceId: 'p', Enabled: true, CollectionErrors: { Enabled: 'denied' } }] });
    host.lookup = (id) => (id === 'bad' ? '{' : id === 'p' ? JSON.stringify({ ResourceId: 'p', CollectionErrors: { Enabled: 'denied' } }) : undefined);
    const pack = fixture(host);
    assert.equal(pack.exports.evaluate(req('T.Peer'), 'T.Key', doc({ Peer: 'p' })).message, 'Enabled was not collected: denied');
    assert.match(pack.exports.evaluate(req('T.Peer'), 'T.Key', doc({ Peer: 'bad' })).message, /^Error: looked-up resource bad is not valid JSON/);
    assert.match(pack.exports.evaluate(req('T.Peer'), 'T.Key', doc({ Peer: 5 })).message, /^TypeError: lookup\(\) needs a ResourceId string/);
  });

  it('now is the host time, read once per call', () => {
    const host = testHost({ now: '2026-01-01T00:00:00Z' });
    let calls = 0;
    const hostNow = host.now;
    host.now = () => {
      calls++;
      return hostNow();
    };
    const pack = fixture(host);
    const keys = [doc({ Name: 'new', TimeCreated: '2025-12-01T00:00:00Z' }), doc({ Name: 'old', TimeCreated: '2020-01-01T00:00:00Z' })];
    const outcomes = pack.exports.evaluateBatch([req('T.Age')], 'T.Key', keys);
    assert.deepEqual(outcomes.map((o) => o.verdict.status), ['pass', 'fail']);
    assert.equal(calls, 1);
    assert.throws(() => pack.now(), /only available while a rule is evaluating/);
  });

  it('log checks its level', () => {
    const pack = createPack(testHost());
    pack.rule({ id: 'L', title: 'l', severity: 'low', resourceTypes: ['T'] }, () => pack.log('loud', 'x'));
    assert.match(pack.exports.evaluate(req('L'), 'T', doc({})).message, /^TypeError: log level must be one of/);
  });
});

describe('registration', () => {
  const ok = { id: 'A', title: 'a', severity: 'low', resourceTypes: ['T'] };
  const reg = (meta, policy = () => true) => {
    const pack = createPack(testHost());
    pack.setSource('file.js');
    pack.rule(ok, () => true);
    pack.rule(meta, policy);
  };

  it('rejects bad metadata with the file and rule named', () => {
    assert.throws(() => reg(ok), /^TypeError: file.js: rule A: duplicate rule id \(also registered in file.js\)/);
    assert.throws(() => reg({ ...ok, id: 'B', severity: 'severe' }), /rule B: `severity` must be one of info, low/);
    assert.throws(() => reg({ ...ok, id: 'B', resourceTypes: [] }), /`resourceTypes` must be a non-empty list/);
    assert.throws(() => reg({ ...ok, id: 'B', title: '' }), /`title`/);
    assert.throws(() => reg({ ...ok, id: 'B', compliance: 'CIS' }), /`compliance` must be a list of strings/);
    assert.throws(() => reg({ ...ok, id: 'B', resourceType: ['T'] }), /unknown metadata key `resourceType`/);
    assert.throws(() => reg({ ...ok, id: 'B' }, null), /second argument of rule\(\) must be the policy function/);
    assert.throws(() => reg({ ...ok, id: 'B', settings: [{ name: 's', kind: 'integer', default: 1.5 }] }), /the default is not a valid integer/);
    assert.throws(() => reg({ ...ok, id: 'B', settings: [{ name: 's', kind: 'int', default: 1 }] }), /`kind` must be one of/);
    assert.throws(() => reg({ ...ok, id: 'B', settings: [{ name: 's', kind: 'text' }] }), /needs a `default`/);
  });
});
