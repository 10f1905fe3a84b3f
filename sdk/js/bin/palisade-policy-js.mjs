#!/usr/bin/env node
// palisade-policy-js: build a folder of JavaScript rule files into a Palisade policy pack.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { BuildError, build, bundle, loadPack, sdkVersion } from '../src/build.js';
import { testHost } from '../src/index.js';

const USAGE = `Usage:
  palisade-policy-js build <dir> -o <out.wasm> --wit <wit-dir> [--bundle-out <file.js>]
      Bundle every rule file of <dir> (top-level *.js, except _*.js and *.test.js) with the SDK
      runtime and componentize it into one pack component implementing palisade:policy/pack.
      <wit-dir> is the folder holding palisade's policy.wit.
  palisade-policy-js bundle <dir> [-o <out.js>]
      Write the single ES module that build componentizes (to stdout without -o).
  palisade-policy-js describe <dir>
      Load the rule files in Node and print their metadata as JSON (what describe() returns).
  palisade-policy-js --version | --help`;

function usage(message) {
  if (message) process.stderr.write(`palisade-policy-js: ${message}\n\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        wit: { type: 'string' },
        'bundle-out': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (e) {
    usage(e.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.version) {
    process.stdout.write(`palisade-policy-js ${await sdkVersion()}\n`);
    return;
  }
  const [command, dir, ...extra] = positionals;
  if (!command) usage('no command given');
  if (extra.length) usage(`unexpected argument ${extra[0]}`);
  switch (command) {
    case 'build': {
      if (!dir) usage('build needs the pack folder');
      if (!values.out) usage('build needs -o <out.wasm>');
      if (!values.wit) usage('build needs --wit <wit-dir> (the folder holding palisade\'s policy.wit)');
      const started = Date.now();
      const result = await build({
        dir,
        out: values.out,
        wit: values.wit,
        bundleOut: values['bundle-out'],
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
      const mib = (result.bytes / 1048576).toFixed(1);
      process.stderr.write(
        `wrote ${values.out} (${mib} MiB, ${result.rules.length} rule(s): ${result.rules.map((r) => r.id).join(', ')}) ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
      );
      return;
    }
    case 'bundle': {
      if (!dir) usage('bundle needs the pack folder');
      const { source } = await bundle(dir);
      if (values.out) await writeFile(values.out, source);
      else process.stdout.write(source);
      return;
    }
    case 'describe': {
      if (!dir) usage('describe needs the pack folder');
      const pack = await loadPack(dir, testHost());
      process.stdout.write(`${JSON.stringify(pack.rules, null, 2)}\n`);
      return;
    }
    default:
      usage(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  const message = e instanceof BuildError ? e.message : e && e.stack ? e.stack : String(e);
  process.stderr.write(`palisade-policy-js: error: ${message}\n`);
  process.exit(1);
});
