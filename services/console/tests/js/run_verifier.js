// Runs the console's in-browser verifier (static/js/verify.js) under Node.js on a spec
// written by test_verifier.py: RFC 6962 inclusion vectors, canonical-JSON cases, signed
// notes and whole proof bundles. Prints one JSON document with every result.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const source = fs.readFileSync(
  path.join(__dirname, "..", "..", "src", "mpa_console", "static", "js", "verify.js"),
  "utf8",
);
vm.runInThisContext(source, { filename: "verify.js" });
const V = globalThis.MpaVerify;

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const out = { inclusion: [], canonical: [], notes: [], bundles: [] };
  for (const vector of spec.inclusion) {
    let accepted;
    try {
      accepted = await V.verifyInclusion(
        vector.leafIdx,
        vector.treeSize,
        V.b64decode(vector.leafHash),
        (vector.proof || []).map(V.b64decode), // null in the vectors: no proof
        V.b64decode(vector.root),
      );
    } catch (error) {
      accepted = false;
    }
    out.inclusion.push({ name: vector.name, accepted });
  }
  for (const text of spec.canonical) {
    out.canonical.push(V.canonical(V.parseJson(text)));
  }
  for (const note of spec.notes) {
    out.notes.push(await V.verifyNote(note.note, note.key));
  }
  for (const bundleText of spec.bundles) {
    out.bundles.push(await V.verifyBundle(V.parseJson(bundleText)));
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack));
  process.exit(1);
});
