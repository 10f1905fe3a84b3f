// palisade-policy: write Palisade policy packs in JavaScript.
//
// Rule files do not import this module (they are bundled with the runtime, which puts `rule` and
// the helpers in scope). It is for Node-side code: unit tests of rules, and tools.
import { parseTime } from './helpers.js';

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
} from './helpers.js';
export { createPack, capMessage, MAX_MESSAGE_BYTES } from './runtime.js';
export { bundle, build, loadPack, ruleFiles, BuildError, HOST_IMPORT } from './build.js';

/**
 * A host for running packs in Node: a fixed evaluation time (`now`, RFC 3339), resources visible
 * to `lookup` (documents with a `ResourceId`), and the log lines rules wrote (`host.logs`, as
 * `[level, message]`).
 */
export function testHost({ now = '2026-01-01T00:00:00Z', resources = [] } = {}) {
  const ms = parseTime(now).getTime();
  const byId = new Map();
  for (const r of resources) byId.set(r.ResourceId, typeof r === 'string' ? r : JSON.stringify(r));
  const host = {
    logs: [],
    lookups: [],
    now: () => ({ seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 }),
    lookup(id) {
      host.lookups.push(id);
      return byId.get(id);
    },
    log(level, message) {
      host.logs.push([level, message]);
    },
    /** Make `document` visible to lookups. */
    add(document) {
      byId.set(document.ResourceId, JSON.stringify(document));
      return host;
    },
  };
  return host;
}
