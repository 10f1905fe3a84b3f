// The pack runtime: rule registration and the three exports of `palisade:policy/rules`
// (`describe`, `evaluate`, `evaluateBatch`). `createPack(host)` takes the host imports as an
// object, so Node tests drive the very code that runs in the component with a fake host.
//
// Nothing may escape an export: an exception leaving a component export traps the instance
// (the host then loses every verdict of the call). Every export catches at its boundary and turns
// what it caught into `error` verdicts.
//
// BUNDLING CONTRACT: as for helpers.js, the only import is the single-line one from
// './helpers.js' and the only export is the `export { ... };` at the end; the bundler drops both.
import { CollectionError, parseTime } from './helpers.js';

const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
const SETTING_KINDS = ['boolean', 'integer', 'number', 'text', 'text-list', 'text-map'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** The host keeps at most this many bytes (UTF-8) of a message; longer ones are cut, ending in `...`. */
const MAX_MESSAGE_BYTES = 4096;

const PASS = Object.freeze({ status: 'pass' });
const ownKey = Object.prototype.hasOwnProperty;

// The first CollectionError thrown while the current policy ran (on the resource or on a looked-up
// one). A policy that catches it and decides anyway still ends in `error`: "could not read" must
// never turn into pass or fail. Evaluation is synchronous, so one variable serves every pack.
let tripped = null;

function errorVerdict(message) {
  return { status: 'error', message: capMessage(message) };
}

/** Cut `message` to MAX_MESSAGE_BYTES of UTF-8 (at a character boundary), ending in `...`. */
function capMessage(message) {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no counting.
  if (message.length <= 1365) return message;
  let bytes = 0;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 4 : c >= 0xdc00 && c <= 0xdfff ? 0 : 3;
  }
  if (bytes <= MAX_MESSAGE_BYTES) return message;
  const limit = MAX_MESSAGE_BYTES - 3;
  let used = 0, end = 0;
  while (end < message.length) {
    const c = message.charCodeAt(end);
    const pair = c >= 0xd800 && c <= 0xdbff;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (used + size > limit) break;
    used += size;
    end += pair ? 2 : 1;
  }
  return message.slice(0, end) + '...';
}

/** The text of an exception a policy threw: `CollectionError`s say which field, others `Name: message`. */
function describeError(e) {
  try {
    if (e instanceof CollectionError) return e.message;
    if (e !== null && typeof e === 'object' && typeof e.message === 'string') {
      const name = typeof e.name === 'string' && e.name ? e.name : 'Error';
      return e.message ? `${name}: ${e.message}` : name;
    }
    return `Error: ${String(e)}`;
  } catch {
    return 'Error: an exception that cannot be printed';
  }
}

function typeName(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

// Reading a top-level field named in `CollectionErrors` (or asking `"Field" in resource`) throws.
// Only documents that have such a field are wrapped; every other document is handed to policies as
// the plain parsed object.
function checkCollected(target, prop) {
  if (typeof prop === 'string' && prop !== 'CollectionErrors') {
    const errors = target.CollectionErrors;
    if (ownKey.call(errors, prop)) {
      const why = errors[prop];
      if (why !== null && why !== undefined) {
        const error = new CollectionError(prop, typeof why === 'string' ? why : JSON.stringify(why));
        if (tripped === null) tripped = error;
        throw error;
      }
    }
  }
}

const COLLECTED_GUARD = {
  get(target, prop) {
    checkCollected(target, prop);
    return target[prop];
  },
  has(target, prop) {
    checkCollected(target, prop);
    return prop in target;
  },
};

/**
 * The resource as rules see it: `doc` itself, or a guard around it when its `CollectionErrors`
 * names a field. Returns a string (the reason) when the document cannot be evaluated at all.
 */
function guardResource(doc) {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return 'resource document is not a JSON object';
  }
  const errors = doc.CollectionErrors;
  if (errors === undefined || errors === null) return doc;
  if (typeof errors !== 'object' || Array.isArray(errors)) {
    return `CollectionErrors is not an object of reasons (got ${typeName(errors)})`;
  }
  for (const field in errors) {
    if (ownKey.call(errors, field) && errors[field] !== null && errors[field] !== undefined) {
      return new Proxy(doc, COLLECTED_GUARD);
    }
  }
  return doc;
}

function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

function checkSettingValue(kind, value) {
  switch (kind) {
    case 'boolean': return typeof value === 'boolean';
    case 'integer': return Number.isInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'text': return typeof value === 'string';
    case 'text-list': return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'text-map':
      return value !== null && typeof value === 'object' && !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === 'string');
    default: return false;
  }
}

const stringList = (value) => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * A pack: the rule registry and the component exports, bound to `host`, an object with the
 * `palisade:policy/host` functions `log(level, message)`, `now() -> {seconds, nanoseconds}` and
 * `lookup(resourceId) -> string | undefined`.
 */
function createPack(host) {
  const registered = [];
  const byId = new Map();
  let source = '';
  let inCall = false;
  let nowMs = null;
  let described = null;

  /** Register a rule: `meta` is its metadata, `policy(resource, settings)` returns a boolean. */
  function rule(meta, policy) {
    const where = `${source ? source + ': ' : ''}rule ${meta && typeof meta.id === 'string' ? meta.id : '(no id)'}`;
    const fail = (what) => {
      throw new TypeError(`${where}: ${what}`);
    };
    if (inCall) fail('rules must be registered at the top level of a rule file, not while evaluating');
    if (meta === null || typeof meta !== 'object') fail('the first argument of rule() must be an object of metadata');
    if (typeof meta.id !== 'string' || meta.id === '') fail('`id` must be a non-empty string');
    if (byId.has(meta.id)) {
      const other = byId.get(meta.id).source;
      fail(`duplicate rule id (also registered${other ? ' in ' + other : ''})`);
    }
    if (typeof policy !== 'function') fail('the second argument of rule() must be the policy function');
    if (typeof meta.title !== 'string' || meta.title === '') fail('`title` must be a non-empty string');
    if (!SEVERITIES.includes(meta.severity)) fail(`\`severity\` must be one of ${SEVERITIES.join(', ')}`);
    if (!stringList(meta.resourceTypes) || meta.resourceTypes.length === 0) {
      fail('`resourceTypes` must be a non-empty list of strings, e.g. ["AWS.S3.Bucket"]');
    }
    for (const key of ['description', 'remediation']) {
      if (meta[key] !== undefined && typeof meta[key] !== 'string') fail(`\`${key}\` must be a string`);
    }
    for (const key of ['references', 'compliance']) {
      if (meta[key] !== undefined && !stringList(meta[key])) fail(`\`${key}\` must be a list of strings`);
    }
    if (meta.defaultEnabled !== undefined && typeof meta.defaultEnabled !== 'boolean') fail('`defaultEnabled` must be a boolean');
    if (meta.message !== undefined && typeof meta.message !== 'function' && typeof meta.message !== 'string') {
      fail('`message` must be a function of the resource (or a string)');
    }
    const known = new Set([
      'id', 'title', 'severity', 'resourceTypes', 'description', 'remediation', 'references',
      'compliance', 'settings', 'defaultEnabled', 'message',
    ]);
    for (const key of Object.keys(meta)) if (!known.has(key)) fail(`unknown metadata key \`${key}\``);

    const settings = [];
    const defaults = {};
    if (meta.settings !== undefined) {
      if (!Array.isArray(meta.settings)) fail('`settings` must be a list');
      for (const s of meta.settings) {
        if (s === null || typeof s !== 'object' || typeof s.name !== 'string' || s.name === '') {
          fail('every setting needs a `name`');
        }
        const at = `setting \`${s.name}\``;
        if (!SETTING_KINDS.includes(s.kind)) fail(`${at}: \`kind\` must be one of ${SETTING_KINDS.join(', ')}`);
        if (ownKey.call(defaults, s.name)) fail(`${at} is declared twice`);
        if (!ownKey.call(s, 'default')) fail(`${at} needs a \`default\` value`);
        if (!checkSettingValue(s.kind, s.default)) fail(`${at}: the default is not a valid ${s.kind}`);
        if (s.description !== undefined && typeof s.description !== 'string') fail(`${at}: \`description\` must be a string`);
        settings.push({
          name: s.name,
          description: s.description ?? '',
          kind: s.kind,
          defaultJson: JSON.stringify(s.default),
        });
        defaults[s.name] = deepFreeze(JSON.parse(JSON.stringify(s.default)));
      }
    }

    const entry = {
      id: meta.id,
      source,
      info: {
        id: meta.id,
        title: meta.title,
        severity: meta.severity,
        resourceTypes: meta.resourceTypes.slice(),
        description: meta.description ?? '',
        remediation: meta.remediation ?? '',
        references: (meta.references ?? []).slice(),
        compliance: (meta.compliance ?? []).slice(),
        settings: settings.map(({ name, description, kind, defaultJson }) => ({ name, description, kind, defaultJson })),
        defaultEnabled: meta.defaultEnabled ?? true,
      },
      types: new Set(meta.resourceTypes),
      policy,
      message: meta.message,
      settingKinds: new Map(settings.map((s) => [s.name, s.kind])),
      defaults,
      settingsCache: new Map(),
    };
    registered.push(entry);
    byId.set(entry.id, entry);
    described = null;
    return entry.info;
  }

  // ----- settings -------------------------------------------------------------------------------

  /**
   * `{entry, settings}` for a request (settings: the operator's values over the declared
   * defaults, frozen), or `{error}` holding the error verdict when the rule cannot run.
   */
  function prepare(request, resourceType) {
    const entry = byId.get(request.ruleId);
    if (entry === undefined) return { error: errorVerdict(`this pack has no rule ${request.ruleId}`) };
    if (!entry.types.has(resourceType)) return { error: errorVerdict(`${entry.id} does not apply to ${resourceType}`) };
    const json = request.settingsJson ?? '';
    let prepared = entry.settingsCache.get(json);
    if (prepared === undefined) {
      prepared = parseSettings(entry, json);
      if (entry.settingsCache.size >= 64) entry.settingsCache.clear();
      entry.settingsCache.set(json, prepared);
    }
    return prepared;
  }

  function parseSettings(entry, json) {
    if (json.trim() === '') return { entry, settings: deepFreeze({ ...entry.defaults }) };
    let parsed;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      return { error: errorVerdict(`rule settings are not valid JSON: ${e.message}`) };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { error: errorVerdict('rule settings must be a JSON object') };
    }
    for (const name of Object.keys(parsed)) {
      const kind = entry.settingKinds.get(name);
      if (kind !== undefined && !checkSettingValue(kind, parsed[name])) {
        return {
          error: errorVerdict(`setting \`${name}\` of ${entry.id} is invalid: expected ${kind}, got ${JSON.stringify(parsed[name])}`),
        };
      }
    }
    return { entry, settings: deepFreeze({ ...entry.defaults, ...parsed }) };
  }

  // ----- one evaluation -------------------------------------------------------------------------

  function failMessage(entry, resource, doc, settings) {
    const m = entry.message;
    if (m === undefined) return `${doc.ResourceId ?? ''} does not comply with ${entry.id}`;
    if (typeof m === 'string') return m;
    const text = m(resource, settings);
    if (text === null || text === undefined) return `${doc.ResourceId ?? ''} does not comply with ${entry.id}`;
    return typeof text === 'string' ? text : String(text);
  }

  function run(prepared, resource, doc) {
    const entry = prepared.entry;
    let result, verdict;
    tripped = null;
    try {
      result = entry.policy(resource, prepared.settings);
      if (result === true) verdict = PASS;
      else if (result === false) verdict = { status: 'fail', message: capMessage(failMessage(entry, resource, doc, prepared.settings)) };
    } catch (e) {
      tripped = null;
      return errorVerdict(describeError(e));
    }
    if (verdict === undefined) {
      tripped = null;
      return errorVerdict(`policy returned ${typeName(result)}, not a bool`);
    }
    if (tripped !== null) {
      const message = tripped.message;
      tripped = null;
      return errorVerdict(message);
    }
    return verdict;
  }

  function beginCall() {
    inCall = true;
    nowMs = null;
  }

  function endCall() {
    inCall = false;
    nowMs = null;
  }

  // ----- exports --------------------------------------------------------------------------------

  function describe() {
    if (described === null) described = registered.map((r) => r.info);
    return described;
  }

  function evaluate(request, resourceType, document) {
    beginCall();
    try {
      // A request error (unknown rule, wrong type, bad settings) outranks a bad document.
      const prepared = prepare(request, resourceType);
      if (prepared.error !== undefined) return prepared.error;
      let doc;
      try {
        doc = JSON.parse(document);
      } catch (e) {
        return errorVerdict(`resource document is not valid JSON: ${e.message}`);
      }
      const resource = guardResource(doc);
      if (typeof resource === 'string') return errorVerdict(resource);
      return run(prepared, resource, doc);
    } catch (e) {
      return internalError(e);
    } finally {
      endCall();
    }
  }

  function evaluateBatch(requests, resourceType, documents) {
    beginCall();
    try {
      const n = requests.length;
      const prepared = new Array(n);
      for (let i = 0; i < n; i++) prepared[i] = prepare(requests[i], resourceType);
      const outcomes = new Array(documents.length * n);
      let k = 0;
      for (let d = 0; d < documents.length; d++) {
        let doc, resource;
        try {
          doc = JSON.parse(documents[d]);
          resource = guardResource(doc);
        } catch (e) {
          resource = `resource document is not valid JSON: ${e.message}`;
        }
        const unusable = typeof resource === 'string' ? errorVerdict(resource) : null;
        for (let i = 0; i < n; i++) {
          const p = prepared[i];
          const verdict = p.error !== undefined ? p.error : unusable !== null ? unusable : run(p, resource, doc);
          outcomes[k++] = { rule: i, document: d, verdict };
        }
      }
      return outcomes;
    } catch (e) {
      // Not reachable through policies (run() catches); kept so nothing can trap the instance.
      const verdict = internalError(e);
      const outcomes = [];
      for (let d = 0; d < documents.length; d++) {
        for (let i = 0; i < requests.length; i++) outcomes.push({ rule: i, document: d, verdict });
      }
      return outcomes;
    } finally {
      endCall();
    }
  }

  function internalError(e) {
    return errorVerdict(`palisade-policy runtime error: ${describeError(e)}`);
  }

  // ----- host services for rules ----------------------------------------------------------------

  function requireCall(what) {
    if (!inCall) throw new Error(`${what} is only available while a rule is evaluating`);
  }

  /** The evaluation time (the host's, fixed for the whole call) as a new `Date`. */
  function now() {
    requireCall('now()');
    if (nowMs === null) {
      const t = host.now();
      nowMs = Number(t.seconds) * 1000 + Math.floor(Number(t.nanoseconds) / 1e6);
    }
    return new Date(nowMs);
  }

  /** Whole days from `time` (a `Date` or RFC 3339 string) to the evaluation time, rounded down. */
  function ageDays(time) {
    const t = time instanceof Date ? time : parseTimeForAge(time);
    return Math.floor((now().getTime() - t.getTime()) / 86400000);
  }

  /** Another resource of the same account by `ResourceId`, parsed (and guarded), or `null`. */
  function lookup(resourceId) {
    requireCall('lookup()');
    if (typeof resourceId !== 'string') throw new TypeError(`lookup() needs a ResourceId string, got ${typeName(resourceId)}`);
    const text = host.lookup(resourceId);
    if (text === undefined || text === null) return null;
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`looked-up resource ${resourceId} is not valid JSON: ${e.message}`);
    }
    const guarded = guardResource(doc);
    if (typeof guarded === 'string') throw new Error(`looked-up resource ${resourceId}: ${guarded}`);
    return guarded;
  }

  /** Write a line to the host log; `level` is one of trace, debug, info, warn, error. */
  function log(level, message) {
    if (!LOG_LEVELS.includes(level)) throw new TypeError(`log level must be one of ${LOG_LEVELS.join(', ')}`);
    if (!inCall) return; // Top-level code runs while the pack is built: there is no host to log to.
    host.log(level, typeof message === 'string' ? message : String(message));
  }

  /** For tests: run rule `ruleId` on one resource object (its `ResourceType` picks the type). */
  function check(ruleId, resource, settings) {
    const document = typeof resource === 'string' ? resource : JSON.stringify(resource);
    const type = typeof resource === 'string' ? JSON.parse(resource).ResourceType : resource.ResourceType;
    return evaluate({ ruleId, settingsJson: settings === undefined ? '' : JSON.stringify(settings) }, type ?? '', document);
  }

  return {
    rule,
    now,
    ageDays,
    lookup,
    log,
    check,
    /** The `palisade:policy/rules` export. */
    exports: { describe, evaluate, evaluateBatch },
    /** The registered rules' metadata, as `describe` returns it. */
    get rules() {
      return describe();
    },
    /** Name the rule file being loaded, for registration errors (used by the bundle). */
    setSource(name) {
      source = name;
    },
  };
}

function parseTimeForAge(time) {
  const t = parseTime(time);
  if (t === null) throw new TypeError(`ageDays() needs a time, got ${typeName(time)}`);
  return t;
}

export { createPack, capMessage, describeError, guardResource, MAX_MESSAGE_BYTES, SEVERITIES, SETTING_KINDS, LOG_LEVELS };
