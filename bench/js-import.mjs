// The peer of the import benchmark: Chroma's official JS client adding a
// JSONL file (chromavault's format) in batches of 1,000, one after another.
// usage: node bench/js-import.mjs CHROMA_PKG_DIR URL COLLECTION FILE [SPACE]
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [pkgDir, url, name, file, space = "l2"] = process.argv.slice(2);
const { ChromaClient } = await import(
	pathToFileURL(`${pkgDir}/node_modules/chromadb/dist/chromadb.mjs`).href);
const u = new URL(url);
const client = new ChromaClient({ host: u.hostname, port: Number(u.port), ssl: false });
const coll = await client.createCollection({ name, embeddingFunction: null,
	configuration: { hnsw: { space } } });
const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith('{"id"'));
const t0 = process.hrtime.bigint();
for (let i = 0; i < lines.length; i += 1000) {
	const recs = lines.slice(i, i + 1000).map((l) => JSON.parse(l));
	await coll.add({ ids: recs.map((r) => r.id), embeddings: recs.map((r) => r.embedding),
		documents: recs.map((r) => r.text_chunk), metadatas: recs.map((r) => r.metadata) });
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ records: lines.length, seconds: secs }));
