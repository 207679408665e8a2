// Checks pass.json files with the schemas of passkit-generator, an
// independent open-source pass library: the keys, types and shapes Apple
// documents (fields, barcodes, NFC, semantics, relevance, colours, …).
//
//   node scripts/passkit-check.cjs <passkit-generator dir> pass.json…
//
// Prints one line per file and exits 1 when any is refused.
"use strict";
const fs = require("fs");
const path = require("path");
const [dir, ...files] = process.argv.slice(2);
const schemas = require(path.join(dir, "lib", "cjs", "schemas", "index.js"));
let refused = 0;
for (const f of files) {
	const pass = JSON.parse(fs.readFileSync(f, "utf8"));
	const { error } = schemas.PassProps.validate(pass, { abortEarly: false });
	if (error) {
		refused++;
		console.log(`${f}: refused: ${error.details.map((d) => d.message).join("; ")}`);
	} else {
		console.log(`${f}: ok`);
	}
}
process.exit(refused ? 1 : 0);
