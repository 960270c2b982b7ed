#!/usr/bin/env node
// Compile contracts/*.sol with the pinned solc-js and OpenZeppelin into committed JSON artifacts.
//
// Usage: node scripts/build_contracts.mjs [--check] [--json] [--root DIR]
//   (no flag)  write src/busanchain/chain/artifacts/<Name>.json, one per deployable contract
//   --check    compile in memory, compare with the committed artifacts; exit 1 naming the stale
//   --json     print a one-line JSON summary on stdout ({"stale": [...]} or {"written": [...]})
//   --root     repository root (default: the folder above this script); node_modules is
//              looked up there, so a copy of the repo with a node_modules symlink works too.
//
// Output is deterministic (sorted keys, 2-space indent, trailing newline) so that a stale
// artifact shows up as a diff and the check can compare bytes.

import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const EVM_VERSION = "cancun";
const OPTIMIZER = { enabled: true, runs: 200 };
const CONTRACTS_DIR = "contracts";
const ARTIFACTS_DIR = path.join("src", "busanchain", "chain", "artifacts");
const OZ_PREFIX = "@openzeppelin/";

class BuildError extends Error {}

function parseArgs(argv) {
  const options = {
    check: false,
    json: false,
    root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."),
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--check") options.check = true;
    else if (arg === "--json") options.json = true;
    else if (arg === "--root") {
      if (i + 1 >= argv.length) throw new BuildError("--root needs a directory");
      options.root = path.resolve(argv[i + 1]);
      i += 1;
    } else throw new BuildError(`unknown argument: ${arg}`);
  }
  return options;
}

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

// Recursively sort object keys so that JSON.stringify is canonical.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]);
    return out;
  }
  return value;
}

function serialize(value) {
  return `${JSON.stringify(canonical(value), null, 2)}\n`;
}

function openZeppelinVersion(root) {
  const file = path.join(root, "node_modules", "@openzeppelin", "contracts", "package.json");
  if (!fs.existsSync(file)) {
    throw new BuildError(`OpenZeppelin not found at ${file}; run \`npm ci\` (make setup) first`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

function listSources(root) {
  const dir = path.join(root, CONTRACTS_DIR);
  if (!fs.existsSync(dir)) throw new BuildError(`no ${CONTRACTS_DIR}/ folder under ${root}`);
  const files = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(".sol"))
    .sort();
  if (files.length === 0) throw new BuildError(`no .sol files in ${dir}`);
  const sources = {};
  for (const name of files) {
    const unit = `${CONTRACTS_DIR}/${name}`;
    sources[unit] = { content: fs.readFileSync(path.join(dir, name), "utf8") };
  }
  return sources;
}

// Resolve an import to a file inside the repo's contracts/ or node_modules/@openzeppelin/.
function makeImportCallback(root) {
  const allowed = [
    { prefix: OZ_PREFIX, base: path.join(root, "node_modules", "@openzeppelin") },
    { prefix: `${CONTRACTS_DIR}/`, base: path.join(root, CONTRACTS_DIR) },
  ];
  return (unit) => {
    for (const { prefix, base } of allowed) {
      if (!unit.startsWith(prefix)) continue;
      const file = path.resolve(base, unit.slice(prefix.length));
      if (!file.startsWith(base + path.sep)) return { error: `import escapes ${base}: ${unit}` };
      if (!fs.existsSync(file)) return { error: `import not found: ${unit}` };
      return { contents: fs.readFileSync(file, "utf8") };
    }
    return { error: `import outside ${OZ_PREFIX} and ${CONTRACTS_DIR}/: ${unit}` };
  };
}

function compile(root, sources) {
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      outputSelection: {
        "*": {
          "*": [
            "abi",
            "metadata",
            "evm.bytecode.object",
            "evm.bytecode.linkReferences",
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.immutableReferences",
          ],
        },
      },
    },
  };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), { import: makeImportCallback(root) }),
  );
  const problems = output.errors || [];
  for (const problem of problems.filter((p) => p.severity !== "error")) {
    process.stderr.write(problem.formattedMessage || `${problem.message}\n`);
  }
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) {
    const text = errors.map((e) => e.formattedMessage || e.message).join("\n");
    throw new BuildError(`compilation failed with ${errors.length} error(s):\n${text}`);
  }
  return output;
}

// sha256 over the contract's own source files (sorted, each with its path) and the OZ version.
function sourceHash(metadata, sources, ozVersion) {
  const local = Object.keys(metadata.sources)
    .filter((unit) => unit.startsWith(`${CONTRACTS_DIR}/`))
    .sort();
  const hash = createHash("sha256");
  for (const unit of local) {
    const content = sources[unit] ? sources[unit].content : "";
    hash.update(`${unit}\n${sha256(content)}\n`);
  }
  hash.update(`@openzeppelin/contracts@${ozVersion}\n`);
  return hash.digest("hex");
}

function makeArtifacts(root) {
  const sources = listSources(root);
  const ozVersion = openZeppelinVersion(root);
  const output = compile(root, sources);
  const artifacts = new Map();
  for (const unit of Object.keys(sources)) {
    const contracts = (output.contracts || {})[unit] || {};
    for (const name of Object.keys(contracts).sort()) {
      const contract = contracts[name];
      if (!contract.evm.bytecode.object) continue; // interfaces and abstract contracts
      if (Object.keys(contract.evm.bytecode.linkReferences || {}).length > 0) {
        throw new BuildError(`${name} needs linked libraries, which the toolchain does not support`);
      }
      if (artifacts.has(name)) throw new BuildError(`two contracts are named ${name}`);
      const metadata = JSON.parse(contract.metadata);
      artifacts.set(name, {
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        compiler: solc.version(),
        contractName: name,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
        evmVersion: EVM_VERSION,
        immutableReferences: contract.evm.deployedBytecode.immutableReferences || {},
        openzeppelinVersion: ozVersion,
        optimizer: OPTIMIZER,
        sourceHash: sourceHash(metadata, sources, ozVersion),
        sourceName: unit,
      });
    }
  }
  return artifacts;
}

function existingArtifactNames(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .map((name) => name.slice(0, -".json".length))
    .sort();
}

function check(dir, artifacts) {
  const stale = [];
  for (const [name, artifact] of artifacts) {
    const file = path.join(dir, `${name}.json`);
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
    if (current !== serialize(artifact)) stale.push(name);
  }
  for (const name of existingArtifactNames(dir)) {
    if (!artifacts.has(name)) stale.push(name); // artifact without a source
  }
  return stale.sort();
}

function write(dir, artifacts) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, artifact] of artifacts) {
    const file = path.join(dir, `${name}.json`);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, serialize(artifact));
    fs.renameSync(tmp, file);
  }
  for (const name of existingArtifactNames(dir)) {
    if (!artifacts.has(name)) fs.unlinkSync(path.join(dir, `${name}.json`));
  }
  return [...artifacts.keys()].sort();
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const dir = path.join(options.root, ARTIFACTS_DIR);
  const artifacts = makeArtifacts(options.root);
  if (options.check) {
    const stale = check(dir, artifacts);
    if (options.json) process.stdout.write(`${JSON.stringify({ stale })}\n`);
    if (stale.length > 0) {
      process.stderr.write(
        `stale contract artifacts: ${stale.join(", ")}; run \`make contracts\` and commit them\n`,
      );
      return 1;
    }
    if (!options.json) process.stdout.write(`artifacts up to date (${artifacts.size})\n`);
    return 0;
  }
  const written = write(dir, artifacts);
  if (options.json) process.stdout.write(`${JSON.stringify({ written })}\n`);
  else process.stdout.write(`wrote ${written.length} artifact(s): ${written.join(", ")}\n`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  // Exit code 1 means "stale" in check mode, so every failure exits with 2.
  const detail = error instanceof BuildError ? error.message : error.stack || String(error);
  process.stderr.write(`build_contracts: ${detail}\n`);
  process.exitCode = 2;
}
