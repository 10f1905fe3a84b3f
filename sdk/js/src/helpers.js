// Helpers for Palisade rules written in JavaScript: nested field access, CIDR blocks, timestamps
// and IAM policy documents. Pure JavaScript with no imports and no host access, so the same code
// runs in Node (unit tests) and inside a pack component.
//
// BUNDLING CONTRACT: `palisade-policy-js build` concatenates this file into the pack's single
// module. It must keep to: no `import` statements, and exports only through the one
// `export { ... };` statement at the end of the file (the bundler drops that line).

/** Reading a field the collector could not read (named in the document's `CollectionErrors`). */
class CollectionError extends Error {
  constructor(field, reason) {
    super(`${field} was not collected: ${reason}`);
    this.name = 'CollectionError';
    this.field = field;
    this.reason = reason;
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The value at `keys` below `obj`, like Panther's `deep_get`/`deep_walk` (and the Python SDK's
 * `deep_get`), one key at a time:
 *
 * - on an object, a key selects that property;
 * - on an array, a number key (or a string of digits) selects that element; any other key is
 *   applied to every element (nested arrays included) and the results are flattened into one
 *   array, `null`s skipped;
 * - a missing or `null` step, or a scalar in the way, ends the walk with `null`.
 *
 * Returns `null` when nothing is found (never `undefined`, and never `[]`).
 *
 *   deepGet(sg, "IpPermissions", "IpRanges", "CidrIp")  // ["10.0.0.0/8", "0.0.0.0/0"]
 *   deepGet(bucket, "Versioning", "Status")             // "Enabled" or null
 */
function deepGet(obj, ...keys) {
  let current = obj;
  for (let i = 0; i < keys.length; i++) {
    if (current === null || current === undefined) return null;
    const key = keys[i];
    if (Array.isArray(current)) {
      if (isIndex(key)) {
        current = current[+key];
      } else {
        const found = [];
        fanOut(current, key, found);
        current = found.length > 0 ? found : null;
      }
    } else if (typeof current === 'object') {
      current = current[key];
    } else {
      return null;
    }
  }
  return current === undefined ? null : current;
}

const isIndex = (key) =>
  (typeof key === 'number' && Number.isInteger(key) && key >= 0) || (typeof key === 'string' && /^[0-9]+$/.test(key));

/** Apply `key` to every element of `items` (recursing into nested arrays), appending the
 * non-null results to `out` and flattening results that are arrays. */
function fanOut(items, key, out) {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (Array.isArray(item)) {
      fanOut(item, key, out);
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    const value = item[key];
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      for (let j = 0; j < value.length; j++) if (value[j] !== null && value[j] !== undefined) out.push(value[j]);
    } else {
      out.push(value);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Time

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const TIME_PLACEHOLDERS = new Set(['N/A', 'no_information', 'not_supported']);
const DAY_MS = 86400000;

function daysInMonth(year, month) {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parse an RFC 3339 timestamp (`2024-05-01T12:30:00Z`, `2024-05-01 05:30:00.5-07:00`) into a
 * `Date` (millisecond precision). Returns `null` for `null`/`undefined` and for the
 * credential-report placeholders `N/A`, `no_information` and `not_supported`; a `Date` is returned
 * as a copy. Anything else that is not a valid timestamp throws a `TypeError`, so a rule reading a
 * malformed time yields `error`.
 */
function parseTime(s) {
  if (s === null || s === undefined) return null;
  if (s instanceof Date) return new Date(s.getTime());
  if (typeof s !== 'string') throw new TypeError(`invalid RFC 3339 timestamp: expected a string, got ${typeof s}`);
  if (TIME_PLACEHOLDERS.has(s)) return null;
  const m = TIME_RE.exec(s);
  const bad = (why) => new TypeError(`invalid RFC 3339 timestamp ${JSON.stringify(s)}: ${why}`);
  if (m === null) throw bad('expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)');
  const year = +m[1], month = +m[2], day = +m[3], hour = +m[4], minute = +m[5], second = +m[6];
  if (month < 1 || month > 12) throw bad(`month ${m[2]} is out of range 01-12`);
  if (day < 1 || day > daysInMonth(year, month)) throw bad(`day ${m[3]} is out of range for ${m[1]}-${m[2]}`);
  if (hour > 23) throw bad(`hour ${m[4]} is out of range 00-23`);
  if (minute > 59) throw bad(`minute ${m[5]} is out of range 00-59`);
  if (second > 59) throw bad(`second ${m[6]} is out of range 00-59`);
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = +m[10], om = +m[11];
    if (oh > 23 || om > 59) throw bad('UTC offset is out of range (max 23:59)');
    offsetMinutes = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
  }
  const ms = m[7] === undefined ? 0 : Math.floor(+(m[7] + '000').slice(0, 3));
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return new Date(d.getTime() - offsetMinutes * 60000);
}

/** Whole days from `earlier` to `later` (both `Date`s or timestamps), rounded down. */
function daysBetween(earlier, later) {
  const a = parseTime(earlier), b = parseTime(later);
  if (a === null || b === null) throw new TypeError('daysBetween needs two times');
  return Math.floor((b.getTime() - a.getTime()) / DAY_MS);
}

// ---------------------------------------------------------------------------------------------
// Networks

/**
 * Parse `a.b.c.d/n`, an IPv6 `addr/n`, or a bare address (a single host, `/32` or `/128`) into
 * `{ version: 4 | 6, address: bigint, prefix: number }`. Throws a `TypeError` when `s` is not a
 * CIDR block.
 */
function parseCidr(s) {
  if (typeof s !== 'string') throw new TypeError(`invalid CIDR block: expected a string, got ${s === null ? 'null' : typeof s}`);
  const bad = (why) => new TypeError(`invalid CIDR block ${JSON.stringify(s)}: ${why}`);
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  let prefix = null;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) throw bad('prefix length must be a decimal number');
    prefix = +p;
  }
  if (addr.includes(':')) {
    const address = parseIpv6(addr);
    if (address === null) throw bad('not a valid IPv6 address');
    if (prefix === null) prefix = 128;
    if (prefix > 128) throw bad('IPv6 prefix length must be 0-128');
    return { version: 6, address, prefix };
  }
  const address = parseIpv4(addr);
  if (address === null) throw bad('not a valid IPv4 address');
  if (prefix === null) prefix = 32;
  if (prefix > 32) throw bad('IPv4 prefix length must be 0-32');
  return { version: 4, address: BigInt(address), prefix };
}

function parseIpv4(s) {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part[0] === '0')) return null;
    const v = +part;
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function parseIpv6(s) {
  let head = s, tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (text) => (text === '' ? [] : text.split(':'));
  const h = groups(head), t = groups(tail);
  // An embedded IPv4 address in the last position counts as two groups.
  const words = [];
  const all = h.concat(dbl >= 0 ? ['::'] : [], t);
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (g === '::') { words.push(g); continue; }
    if (i === all.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (v4 === null) return null;
      words.push(Math.floor(v4 / 65536), v4 % 65536);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const explicit = words.filter((w) => w !== '::').length;
  if (dbl >= 0 ? explicit > 7 : explicit !== 8) return null;
  let n = 0n;
  for (const w of words) {
    if (w === '::') {
      n <<= BigInt(16 * (8 - explicit));
    } else {
      n = (n << 16n) | BigInt(w);
    }
  }
  return n;
}

/**
 * Whether `s` is a CIDR block open to the whole internet: `0.0.0.0/0`, `::/0` (or any block with
 * prefix length 0; surrounding whitespace ignored). `false` for anything that does not parse,
 * including non-strings.
 */
function isWorldCidr(s) {
  if (s === '0.0.0.0/0' || s === '::/0') return true;
  if (typeof s !== 'string') return false;
  const t = s.trim();
  if (!t.endsWith('/0')) return false;
  try {
    return parseCidr(t).prefix === 0;
  } catch {
    return false;
  }
}

/**
 * Whether every address of CIDR block `inner` is in `outer` (IPv4 or IPv6; blocks of different
 * families never contain each other). Throws a `TypeError` when either does not parse.
 */
function cidrContains(outer, inner) {
  const o = parseCidr(outer), i = parseCidr(inner);
  if (o.version !== i.version || o.prefix > i.prefix) return false;
  const width = BigInt(o.version === 4 ? 32 : 128);
  const shift = width - BigInt(o.prefix);
  return o.address >> shift === i.address >> shift;
}

// ---------------------------------------------------------------------------------------------
// IAM policy documents

class PolicyDocumentError extends Error {
  constructor(message) {
    super(`invalid IAM policy document: ${message}`);
    this.name = 'PolicyDocumentError';
  }
}

/**
 * IAM-style wildcard match: `*` matches any run of characters (including none), `?` exactly one,
 * everything else itself ignoring case (IAM actions are case-insensitive).
 */
function wildcardMatch(pattern, value) {
  const p = pattern.toLowerCase(), v = value.toLowerCase();
  let pi = 0, vi = 0, starP = -1, starV = 0;
  while (vi < v.length) {
    const c = p[pi];
    if (c === '*') { starP = ++pi; starV = vi; continue; }
    if (c !== undefined && (c === '?' || c === v[vi])) { pi++; vi++; continue; }
    if (starP < 0) return false;
    pi = starP;
    vi = ++starV;
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

const isAllStars = (p) => p.length > 0 && /^\*+$/.test(p);
function coversAllActions(p) {
  const colon = p.indexOf(':');
  return colon < 0 ? isAllStars(p) : isAllStars(p.slice(0, colon)) && isAllStars(p.slice(colon + 1));
}

function oneOrMany(value, where) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.slice();
  throw new PolicyDocumentError(`${where}: expected a string or a list of strings`);
}

function principalOf(value, where) {
  if (value === null || value === undefined) return null;
  if (value === '*') return '*';
  if (typeof value === 'string') return { AWS: [value] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyDocumentError(`${where}: expected "*" or an object such as {"AWS": [...]}`);
  }
  const out = {};
  for (const key of Object.keys(value)) {
    const list = oneOrMany(value[key], `${where}.${key}`);
    if (list !== null) out[key] = list;
  }
  return out;
}

const principalIsPublic = (p) => p === '*' || (p !== null && Object.values(p).some((list) => list.includes('*')));

/** One statement of a policy document, with every element normalised to lists. */
class Statement {
  constructor(raw, index) {
    const where = `Statement[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new PolicyDocumentError(`${where}: expected an object`);
    }
    const effect = typeof raw.Effect === 'string' ? raw.Effect.toLowerCase() : null;
    if (effect !== 'allow' && effect !== 'deny') {
      throw new PolicyDocumentError(`${where}: Effect must be "Allow" or "Deny"`);
    }
    const sid = raw.Sid;
    /** Position in the document's `statements`. */
    this.index = index;
    this.sid = typeof sid === 'string' || typeof sid === 'number' || typeof sid === 'boolean' ? String(sid) : null;
    /** `"Allow"` or `"Deny"`. */
    this.effect = effect === 'allow' ? 'Allow' : 'Deny';
    this.actions = oneOrMany(raw.Action, `${where}: Action`);
    this.notActions = oneOrMany(raw.NotAction, `${where}: NotAction`);
    this.resources = oneOrMany(raw.Resource, `${where}: Resource`);
    this.notResources = oneOrMany(raw.NotResource, `${where}: NotResource`);
    /** `"*"`, an object of principal type to identifiers (`{AWS: [...]}`), or `null`. */
    this.principals = principalOf(raw.Principal, `${where}: Principal`);
    this.notPrincipals = principalOf(raw.NotPrincipal, `${where}: NotPrincipal`);
    const cond = raw.Condition;
    if (cond !== null && cond !== undefined && (typeof cond !== 'object' || Array.isArray(cond))) {
      throw new PolicyDocumentError(`${where}: Condition must be an object`);
    }
    /** The `Condition` block as written (operator to key to values), or `null`. */
    this.conditions = cond ?? null;
  }

  get isAllow() {
    return this.effect === 'Allow';
  }

  /** A label for messages: the `Sid` when non-empty, else `Statement[index]`. */
  get label() {
    return this.sid ? this.sid : `Statement[${this.index}]`;
  }

  /** The action element applies to `action` (whatever the effect). */
  matchesAction(action) {
    if (this.actions !== null) return this.actions.some((p) => wildcardMatch(p, action));
    if (this.notActions !== null) return !this.notActions.some((p) => wildcardMatch(p, action));
    return false;
  }

  /** The resource element applies to `resource`; no element at all applies to everything. */
  matchesResource(resource) {
    if (this.resources !== null) return this.resources.some((p) => wildcardMatch(p, resource));
    if (this.notResources !== null) return !this.notResources.some((p) => wildcardMatch(p, resource));
    return true;
  }

  /** Allow of every action on every resource (`Action: *` or a `NotAction` not excluding `*`). */
  isAdmin() {
    if (!this.isAllow) return false;
    let allActions = false;
    if (this.actions !== null) allActions = this.actions.some(coversAllActions);
    else if (this.notActions !== null) allActions = !this.notActions.some(coversAllActions);
    let allResources = false;
    if (this.resources !== null) allResources = this.resources.some(isAllStars);
    else if (this.notResources !== null) allResources = !this.notResources.some(isAllStars);
    return allActions && allResources;
  }

  /** `Principal` includes everyone, or `NotPrincipal` is present and does not exclude everyone. */
  hasPublicPrincipal() {
    return (
      (this.principals !== null && principalIsPublic(this.principals)) ||
      (this.notPrincipals !== null && !principalIsPublic(this.notPrincipals))
    );
  }

  hasCondition() {
    return this.conditions !== null && Object.keys(this.conditions).length > 0;
  }
}

function percentDecode(s) {
  try {
    return decodeURIComponent(s); // `+` stays `+`, as in the Rust SDK
  } catch {
    throw new PolicyDocumentError('URL-encoded document does not decode');
  }
}

/** A parsed IAM policy document. Not an evaluator: no Deny precedence, no conditions. */
class PolicyDocument {
  /**
   * Parse an object, a JSON string, or a URL-encoded JSON string (as IAM's
   * `GetAccountAuthorizationDetails` returns it). Throws a `PolicyDocumentError`.
   */
  static parse(textOrObject) {
    let doc = textOrObject;
    if (typeof doc === 'string') {
      try {
        doc = JSON.parse(doc);
      } catch (e) {
        if (!doc.trimStart().startsWith('{') && doc.includes('%')) {
          try {
            doc = JSON.parse(percentDecode(doc));
          } catch (e2) {
            if (e2 instanceof PolicyDocumentError) throw e2;
            throw new PolicyDocumentError(`URL-decoded document: ${e2.message}`);
          }
        } else {
          throw new PolicyDocumentError(e.message);
        }
      }
    }
    if (doc === null || doc === undefined) throw new PolicyDocumentError('document is null');
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new PolicyDocumentError('expected a JSON object or a string holding one');
    }
    return new PolicyDocument(doc);
  }

  constructor(raw) {
    const st = raw.Statement;
    let list;
    if (Array.isArray(st)) list = st;
    else if (st !== null && typeof st === 'object') list = [st];
    else throw new PolicyDocumentError('Statement must be an object or a list of them');
    const v = raw.Version;
    this.version = typeof v === 'string' ? v : null;
    /** The statements, in order (`statement.index` is the position). */
    this.statements = list.map((s, i) => new Statement(s, i));
  }

  /** Some Allow statement matches both `action` and `resource` (default `*`). Naive: ignores Deny and conditions. */
  allows(action, resource = '*') {
    return this.statements.some((s) => s.isAllow && s.matchesAction(action) && s.matchesResource(resource));
  }

  /** The first statement granting every action on every resource, or `null`. */
  adminStatement() {
    return this.statements.find((s) => s.isAdmin()) ?? null;
  }

  /** Some statement grants every action on every resource. */
  grantsAdmin() {
    return this.adminStatement() !== null;
  }

  /** The Allow statements with a public principal (conditions not considered). */
  publicStatements() {
    return this.statements.filter((s) => s.isAllow && s.hasPublicPrincipal());
  }
}

export {
  CollectionError,
  deepGet,
  parseTime,
  daysBetween,
  parseCidr,
  isWorldCidr,
  cidrContains,
  wildcardMatch,
  PolicyDocument,
  PolicyDocumentError,
  Statement,
};
