import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  PolicyDocument,
  PolicyDocumentError,
  cidrContains,
  daysBetween,
  deepGet,
  isWorldCidr,
  parseCidr,
  parseTime,
  wildcardMatch,
} from '../src/index.js';

describe('deepGet', () => {
  const sg = {
    Name: 'web',
    Versioning: null,
    IpPermissions: [
      { IpRanges: [{ CidrIp: '10.0.0.0/8' }, { CidrIp: '0.0.0.0/0' }], FromPort: 22 },
      { IpRanges: [], FromPort: null },
      null,
      { IpRanges: [{ Description: 'no cidr' }], FromPort: 443 },
    ],
    Tags: { env: 'prod' },
  };

  it('walks objects', () => {
    assert.equal(deepGet(sg, 'Tags', 'env'), 'prod');
    assert.equal(deepGet(sg, 'Name'), 'web');
    assert.equal(deepGet(sg), sg);
  });

  it('returns null for missing keys, nulls and scalars in the way', () => {
    assert.equal(deepGet(sg, 'Versioning'), null);
    assert.equal(deepGet(sg, 'Versioning', 'Status'), null);
    assert.equal(deepGet(sg, 'Missing', 'Deeper'), null);
    assert.equal(deepGet(sg, 'Name', 'length'), null, 'strings are not walked into');
    assert.equal(deepGet(null, 'a'), null);
    assert.equal(deepGet(undefined), null);
  });

  it('maps over arrays, flattening and skipping nulls', () => {
    assert.deepEqual(deepGet(sg, 'IpPermissions', 'IpRanges', 'CidrIp'), ['10.0.0.0/8', '0.0.0.0/0']);
    assert.deepEqual(deepGet(sg, 'IpPermissions', 'FromPort'), [22, 443]);
    assert.deepEqual(deepGet(sg, 'IpPermissions', 'IpRanges'), [
      { CidrIp: '10.0.0.0/8' },
      { CidrIp: '0.0.0.0/0' },
      { Description: 'no cidr' },
    ]);
    assert.equal(deepGet(sg, 'IpPermissions', 'Nope'), null, 'an empty fan-out is null, not []');
    assert.deepEqual(deepGet({ a: [[{ b: 1 }], [{ b: 2 }, { b: null }]] }, 'a', 'b'), [1, 2], 'nested arrays');
  });

  it('selects array elements with number keys', () => {
    assert.equal(deepGet(sg, 'IpPermissions', 0, 'FromPort'), 22);
    assert.equal(deepGet(sg, 'IpPermissions', 9, 'FromPort'), null);
    assert.deepEqual(deepGet(sg, 'IpPermissions', 0, 'IpRanges', 'CidrIp'), ['10.0.0.0/8', '0.0.0.0/0']);
  });

  it('indexes arrays with strings of digits, after a fan-out too', () => {
    assert.equal(deepGet(sg, 'IpPermissions', '0', 'FromPort'), 22);
    assert.deepEqual(deepGet(sg, 'IpPermissions', 'IpRanges', 1), { CidrIp: '0.0.0.0/0' }, 'index into the flattened list');
    assert.equal(deepGet(sg, 'IpPermissions', -1), null);
  });

  it('returns a reached array as it is', () => {
    assert.equal(deepGet(sg, 'IpPermissions'), sg.IpPermissions);
  });
});

describe('CIDRs', () => {
  it('recognises the world', () => {
    for (const s of ['0.0.0.0/0', '::/0', '0::/0', '1.2.3.4/0', ' 0.0.0.0/0 ']) assert.equal(isWorldCidr(s), true, s);
    for (const s of ['10.0.0.0/8', '0.0.0.0/1', '::/1', '0.0.0.0', 'garbage/0', '', null, undefined, 0, '0.0.0.0/00x']) {
      assert.equal(isWorldCidr(s), false, String(s));
    }
  });

  it('parses IPv4 and IPv6', () => {
    assert.deepEqual(parseCidr('10.1.2.3/8'), { version: 4, address: 0x0a010203n, prefix: 8 });
    assert.deepEqual(parseCidr('192.168.0.1'), { version: 4, address: 0xc0a80001n, prefix: 32 });
    assert.deepEqual(parseCidr('::1'), { version: 6, address: 1n, prefix: 128 });
    assert.deepEqual(parseCidr('2001:db8::/32'), { version: 6, address: 0x20010db8n << 96n, prefix: 32 });
    assert.deepEqual(parseCidr('::ffff:10.0.0.1/128'), { version: 6, address: (0xffffn << 32n) | 0x0a000001n, prefix: 128 });
    assert.deepEqual(parseCidr('1:2:3:4:5:6:7:8/64').address, 0x0001000200030004000500060007_0008n);
  });

  it('rejects what is not a CIDR block', () => {
    for (const s of ['10.0.0.0/33', '256.0.0.0/8', '10.0.0/8', '01.0.0.0/8', '10.0.0.0/', '10.0.0.0/x',
      '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3', 'gggg::/8', '::/129', ' 10.0.0.0/8']) {
      assert.throws(() => parseCidr(s), TypeError, s);
    }
    assert.throws(() => parseCidr(null), /expected a string, got null/);
  });

  it('decides containment', () => {
    assert.equal(cidrContains('10.0.0.0/8', '10.1.2.3'), true);
    assert.equal(cidrContains('10.0.0.0/8', '10.1.0.0/16'), true);
    assert.equal(cidrContains('10.1.0.0/16', '10.0.0.0/8'), false);
    assert.equal(cidrContains('10.0.0.0/8', '11.0.0.0/8'), false);
    assert.equal(cidrContains('0.0.0.0/0', '203.0.113.7/32'), true);
    assert.equal(cidrContains('10.0.0.1/8', '10.200.0.0/16'), true, 'host bits of the outer block are ignored');
    assert.equal(cidrContains('2001:db8::/32', '2001:db8:ffff::/48'), true);
    assert.equal(cidrContains('2001:db8::/32', '2001:db9::/48'), false);
    assert.equal(cidrContains('::/0', '2001:db8::1'), true);
    assert.equal(cidrContains('::/0', '10.0.0.0/8'), false, 'families never contain each other');
    assert.throws(() => cidrContains('10.0.0.0/8', 'nope'), TypeError);
  });
});

describe('time', () => {
  it('parses RFC 3339', () => {
    assert.equal(parseTime('2024-05-01T12:30:00Z').toISOString(), '2024-05-01T12:30:00.000Z');
    assert.equal(parseTime('2024-05-01 05:30:00-07:00').toISOString(), '2024-05-01T12:30:00.000Z');
    assert.equal(parseTime('2024-05-01t12:30:00.123456789z').toISOString(), '2024-05-01T12:30:00.123Z');
    assert.equal(parseTime('2024-02-29T00:00:00+01:30').toISOString(), '2024-02-28T22:30:00.000Z');
    assert.equal(parseTime('0001-01-01T00:00:00Z').getUTCFullYear(), 1);
  });

  it('maps absent values and placeholders to null', () => {
    for (const v of [null, undefined, 'N/A', 'no_information', 'not_supported']) assert.equal(parseTime(v), null);
  });

  it('rejects malformed timestamps', () => {
    for (const s of ['2024-05-01', '2024-05-01T12:30:00', '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z',
      '2024-05-01T24:00:00Z', '2024-05-01T12:60:00Z', '2024-05-01T12:30:60Z', '2024-05-01T12:30:00Zjunk', 'yesterday']) {
      assert.throws(() => parseTime(s), TypeError, s);
    }
    assert.throws(() => parseTime(5), /expected a string/);
  });

  it('counts whole days', () => {
    assert.equal(daysBetween('2025-11-01T00:00:00Z', '2026-01-01T00:00:00Z'), 61);
    assert.equal(daysBetween('2026-01-01T00:00:01Z', '2026-01-02T00:00:00Z'), 0);
    assert.equal(daysBetween('2026-01-02T00:00:00Z', '2026-01-01T23:59:59Z'), -1);
  });
});

describe('IAM policy documents', () => {
  const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
  const readOnly = {
    Version: '2012-10-17',
    Statement: { Sid: 'Read', Effect: 'Allow', Action: ['s3:Get*', 'ec2:Describe*', 'iam:List?olicies'], Resource: '*' },
  };
  const bucketPolicy = {
    Statement: [
      { Sid: 'DenyInsecure', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::site/*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Sid: 'PublicRead', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::123456789012:root', '*'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/*' },
      { Effect: 'Allow', Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/*' },
      { Effect: 'allow', NotPrincipal: { AWS: 'arn:aws:iam::123456789012:role/x' }, Action: 's3:ListBucket', Resource: 'arn:aws:s3:::site' },
    ],
  };

  it('normalises statements', () => {
    const doc = PolicyDocument.parse(readOnly);
    assert.equal(doc.version, '2012-10-17');
    assert.equal(doc.statements.length, 1);
    const [s] = doc.statements;
    assert.equal(s.effect, 'Allow');
    assert.deepEqual(s.actions, ['s3:Get*', 'ec2:Describe*', 'iam:List?olicies']);
    assert.deepEqual(s.resources, ['*']);
    assert.equal(s.notActions, null);
    assert.equal(s.principals, null);
    assert.equal(s.conditions, null);
    assert.equal(s.label, 'Read');
    const p = PolicyDocument.parse(bucketPolicy);
    assert.equal(p.statements[0].principals, '*');
    assert.deepEqual(p.statements[2].principals, { Service: ['cloudfront.amazonaws.com'] });
    assert.deepEqual(p.statements[3].notPrincipals, { AWS: ['arn:aws:iam::123456789012:role/x'] });
    assert.equal(p.statements[3].effect, 'Allow');
    assert.equal(p.statements[2].label, 'Statement[2]');
    assert.equal(p.statements[0].hasCondition(), true);
  });

  it('parses JSON text and URL-encoded JSON text', () => {
    const text = JSON.stringify(admin);
    assert.equal(PolicyDocument.parse(text).grantsAdmin(), true);
    assert.equal(PolicyDocument.parse(encodeURIComponent(text)).grantsAdmin(), true);
  });

  it('reports malformed documents', () => {
    assert.throws(() => PolicyDocument.parse(null), PolicyDocumentError);
    assert.throws(() => PolicyDocument.parse('{"Statement": ['), /invalid IAM policy document/);
    assert.throws(() => PolicyDocument.parse({ Statement: [{ Effect: 'Maybe', Action: '*' }] }), /Statement\[0\]: Effect/);
    assert.throws(() => PolicyDocument.parse({ Statement: [{ Effect: 'Allow', Action: 5 }] }), /Statement\[0\]: Action/);
    assert.throws(() => PolicyDocument.parse({ Version: '2012-10-17' }), /Statement must be/);
    assert.throws(() => PolicyDocument.parse([1]), /expected a JSON object/);
  });

  it('matches IAM wildcards', () => {
    assert.equal(wildcardMatch('s3:Get*', 's3:GetObject'), true);
    assert.equal(wildcardMatch('s3:Get*', 's3:PutObject'), false);
    assert.equal(wildcardMatch('IAM:*', 'iam:CreateUser'), true);
    assert.equal(wildcardMatch('iam:List?olicies', 'iam:ListPolicies'), true);
    assert.equal(wildcardMatch('iam:List?olicies', 'iam:ListXXolicies'), false);
    assert.equal(wildcardMatch('*a*b', 'xxaxxbxb'), true);
    assert.equal(wildcardMatch('a', 'ab'), false);
    assert.equal(wildcardMatch('**', ''), true);
  });

  it('answers allows()', () => {
    const doc = PolicyDocument.parse(readOnly);
    assert.equal(doc.allows('s3:GetObject', 'arn:aws:s3:::b/k'), true);
    assert.equal(doc.allows('s3:PutObject'), false);
    assert.equal(doc.allows('EC2:DescribeInstances'), true);
    const denyOnly = PolicyDocument.parse({ Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] });
    assert.equal(denyOnly.allows('s3:GetObject'), false);
    const notAction = PolicyDocument.parse({ Statement: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::b' }] });
    assert.equal(notAction.allows('s3:GetObject', 'arn:aws:s3:::b'), true);
    assert.equal(notAction.allows('iam:CreateUser', 'arn:aws:s3:::b'), false);
    assert.equal(notAction.allows('s3:GetObject', 'arn:aws:s3:::other'), false);
  });

  it('finds admin grants', () => {
    assert.equal(PolicyDocument.parse(admin).grantsAdmin(), true);
    assert.equal(PolicyDocument.parse(readOnly).grantsAdmin(), false);
    const starStar = PolicyDocument.parse({ Statement: [{ Effect: 'Allow', Action: ['s3:Get*', '*:*'], Resource: ['arn:x', '*'] }] });
    assert.equal(starStar.adminStatement().index, 0);
    const powerUser = PolicyDocument.parse({ Statement: [{ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*'], Resource: '*' }] });
    assert.equal(powerUser.grantsAdmin(), true);
    const notActionStar = PolicyDocument.parse({ Statement: [{ Effect: 'Allow', NotAction: '*', Resource: '*' }] });
    assert.equal(notActionStar.grantsAdmin(), false);
    const scoped = PolicyDocument.parse({ Statement: [{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b' }] });
    assert.equal(scoped.grantsAdmin(), false);
    const deny = PolicyDocument.parse({ Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] });
    assert.equal(deny.grantsAdmin(), false);
  });

  it('finds public statements', () => {
    const doc = PolicyDocument.parse(bucketPolicy);
    assert.deepEqual(doc.publicStatements().map((s) => s.label), ['PublicRead', 'Statement[3]']);
    assert.deepEqual(PolicyDocument.parse(readOnly).publicStatements(), []);
  });
});
