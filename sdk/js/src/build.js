// Bundling and building: a folder of rule files -> one ES module -> one pack component.
//
// componentize-js takes a single module, so the bundle is made here by concatenation: the SDK
// runtime (helpers.js, runtime.js, minus their import/export lines), then every rule file in its
// own block scope, then the `rules` export. Rule files therefore have no imports: `rule`,
// `deepGet`, `lookup`, ... are plain identifiers in scope.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The WIT world the bundle targets and the host interface it imports (see wit/policy.wit). */
export const WORLD = 'pack';
export const HOST_IMPORT = 'palisade:policy/host@0.1.0';
/** Names a rule file sees besides the helpers. */
const PACK_NAMES = ['rule', 'now', 'ageDays', 'lookup', 'log'];
const RUNTIME_FILES = ['helpers.js', 'runtime.js'];
const HOSTS = Symbol.for('palisade-policy.hosts');

export class BuildError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BuildError';
  }
}

/** The version of this SDK (from package.json). */
export async function sdkVersion() {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return pkg.version;
}

/**
 * The rule files of `dir`: every `*.js` at its top level, sorted by name, except names starting
 * with `_` or `.` and test files (`*.test.js`).
 */
export async function ruleFiles(dir) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new BuildError(`cannot read the pack folder ${dir}: ${e.message}`);
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.js') && !e.name.endsWith('.test.js'))
    .map((e) => e.name)
    .filter((name) => !name.startsWith('_') && !name.startsWith('.'))
    .sort();
}

/** The SDK runtime as module-scope code: helpers.js and runtime.js without import/export lines. */
async function runtimeSource() {
  const parts = [];
  for (const file of RUNTIME_FILES) {
    const text = await readFile(new URL(`./${file}`, import.meta.url), 'utf8');
    const stripped = text
      .replace(/^import \{[^}]*\} from '\.\/[\w-]+\.js';$/gm, '')
      .replace(/^export \{[^}]*\};\s*$/gm, '');
    if (/^\s*(import|export)\b/m.test(stripped)) {
      throw new Error(`palisade-policy: ${file} breaks the bundling contract (stray import/export)`);
    }
    parts.push({ name: `palisade-policy runtime: ${file}`, text: stripped });
  }
  return parts;
}

const IMPORT_EXPORT = /^[ \t]*(import[ \t]*[\w{*'"]|export[ \t]+)/m;

/**
 * Bundle the rule files of `dir` into one ES module.
 *
 * `target` is `component` (the module componentize-js gets: it imports the host interface) or
 * `node` (for tests: the host comes from `registerHost`, and the pack object is exported too).
 * Returns `{ source, files, locate(line) }`, where `locate` maps a line of the bundle to
 * `{ file, line }` in a rule file (or null for SDK lines).
 */
export async function bundle(dir, { target = 'component', hostKey = '' } = {}) {
  const files = await ruleFiles(dir);
  if (files.length === 0) {
    throw new BuildError(`no rule files in ${dir} (expected *.js files at its top level)`);
  }
  const version = await sdkVersion();
  const lines = [];
  const regions = [];
  const push = (text) => {
    for (const l of text.split('\n')) lines.push(l);
  };
  push(`// Bundled by palisade-policy-js ${version} from ${files.length} rule file(s). Do not edit.`);
  if (target === 'component') {
    push(`import { log as __palisadeHostLog, now as __palisadeHostNow, lookup as __palisadeHostLookup } from '${HOST_IMPORT}';`);
    push('const __palisadeHost = { log: __palisadeHostLog, now: __palisadeHostNow, lookup: __palisadeHostLookup };');
  } else {
    push(`const __palisadeHost = globalThis[Symbol.for('palisade-policy.hosts')].get(${JSON.stringify(hostKey)});`);
  }
  for (const part of await runtimeSource()) {
    push(`// ---- ${part.name}`);
    push(part.text.replace(/\s+$/, ''));
  }
  push('// ---- the pack');
  push('const __palisadePack = createPack(__palisadeHost);');
  push(`const { ${PACK_NAMES.join(', ')} } = __palisadePack;`);
  for (const name of files) {
    let text = await readFile(join(dir, name), 'utf8');
    if (text.startsWith('#!')) text = '//' + text;
    const bad = IMPORT_EXPORT.exec(text);
    if (bad) {
      const line = text.slice(0, bad.index).split('\n').length;
      throw new BuildError(
        `${name}:${line}: rule files cannot use import or export: they are concatenated into one module, ` +
          'with rule() and the helpers (deepGet, PolicyDocument, ...) already in scope',
      );
    }
    push(`// ---- rule file: ${name}`);
    push(`__palisadePack.setSource(${JSON.stringify(name)});`);
    push('{');
    const start = lines.length + 1;
    push(text.replace(/\s+$/, ''));
    regions.push({ file: name, start, end: lines.length });
    push('}');
  }
  push('__palisadePack.setSource("");');
  push('export const rules = __palisadePack.exports;');
  if (target === 'node') push('export const pack = __palisadePack;');
  const locate = (line) => {
    const r = regions.find((x) => line >= x.start && line <= x.end);
    return r ? { file: r.file, line: line - r.start + 1 } : null;
  };
  return { source: lines.join('\n') + '\n', files, locate };
}

/** Replace `<bundlePath>:LINE:COL` in `text` with `rulefile.js:LINE:COL`. */
function relocate(text, bundlePath, locate) {
  const escaped = bundlePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const urlEscaped = pathToFileURL(bundlePath).href.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return String(text).replace(new RegExp(`(?:${urlEscaped}|${escaped}):(\\d+)(?::(\\d+))?`, 'g'), (all, line, col) => {
    const at = locate(+line);
    if (!at) return `(palisade-policy runtime, bundle line ${line})`;
    return `${at.file}:${at.line}${col ? ':' + col : ''}`;
  });
}

let loadCounter = 0;

/**
 * Load the pack in `dir` into this Node process, bound to `host` (see `testHost`): rule files run
 * exactly as they do in the component. Returns the pack: `{ exports, rules, check, ... }`.
 * Registration errors and syntax errors name the rule file and line.
 */
export async function loadPack(dir, host) {
  const hostKey = `pack-${process.pid}-${++loadCounter}`;
  const { source, locate } = await bundle(dir, { target: 'node', hostKey });
  const work = await mkdtemp(join(tmpdir(), 'palisade-policy-'));
  const path = join(work, 'pack.mjs');
  try {
    await writeFile(path, source);
    checkSyntax(path, locate);
    globalThis[HOSTS] ??= new Map();
    globalThis[HOSTS].set(hostKey, host);
    try {
      const mod = await import(pathToFileURL(path).href);
      return mod.pack;
    } catch (e) {
      const message = e && e.stack ? relocate(bundleFrames(e.stack, path), path, locate) : String(e);
      throw new BuildError(`loading the rule files failed: ${message}`);
    } finally {
      globalThis[HOSTS].delete(hostKey);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The stack without the frames of Node's module loader and of this SDK's tooling. */
function bundleFrames(stack, bundlePath) {
  return String(stack)
    .split('\n')
    .filter((line) => !/^\s+at /.test(line) || line.includes(bundlePath))
    .join('\n');
}

/** `node --check` the bundle, reporting a syntax error at its rule file and line. */
function checkSyntax(path, locate) {
  const r = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8' });
  if (r.status === 0) return;
  const out = `${r.stderr}`.trim();
  const m = /:(\d+)\n/.exec(out);
  const at = m ? locate(+m[1]) : null;
  const detail = out
    .split('\n')
    .filter((l) => !l.startsWith('Node.js ') && !/^\s+at /.test(l))
    .join('\n');
  throw new BuildError(`syntax error${at ? ` in ${at.file}:${at.line}` : ''}:\n${relocate(detail, path, locate)}`);
}

/**
 * Build the pack in `dir` into the component `out`, against the WIT folder `wit` (the caller's
 * copy of palisade's wit/; none ships with the SDK). First loads the rules in Node (so metadata
 * and syntax errors are reported with file and line), then componentizes. Returns
 * `{ rules, files, bytes }`.
 */
export async function build({ dir, out, wit, bundleOut, onProgress = () => {} }) {
  if (!wit) throw new BuildError('--wit <dir> is required: the folder holding palisade\'s policy.wit');
  const witPath = resolve(wit);
  if (!existsSync(witPath)) throw new BuildError(`WIT path ${witPath} does not exist`);
  if (statSync(witPath).isDirectory() && !(await readdir(witPath)).some((f) => f.endsWith('.wit'))) {
    throw new BuildError(`no .wit file in ${witPath}`);
  }
  const { testHost } = await import('./index.js');
  const pack = await loadPack(dir, testHost());
  const rules = pack.rules;
  if (rules.length === 0) throw new BuildError(`the rule files of ${dir} register no rules (call rule({...}, policy))`);
  const { source, files } = await bundle(dir, { target: 'component' });
  if (bundleOut) await writeFile(bundleOut, source);
  onProgress(`bundled ${rules.length} rule(s) from ${files.length} file(s); componentizing (this takes a few seconds)`);
  const { componentize } = await import('@bytecodealliance/componentize-js');
  let component;
  try {
    ({ component } = await componentize(source, {
      witPath,
      worldName: WORLD,
      // A pack gets nothing but the palisade host interface: no WASI clocks, random, stdio or HTTP.
      disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
    }));
  } catch (e) {
    throw new BuildError(`componentize-js failed: ${e && e.message ? e.message : e}`);
  }
  await mkdir(dirname(resolve(out)), { recursive: true });
  await writeFile(out, component);
  return { rules, files, bytes: component.length };
}
