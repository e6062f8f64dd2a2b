// The peer of the export benchmark: Chroma's official JS client (npm chromadb,
// the same package that runs the server) paging through `collection.get` 1,000
// records at a time with embeddings, documents and metadatas, written as JSONL.
// usage: node bench/js-export.mjs CHROMA_PKG_DIR URL COLLECTION OUT
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { pathToFileURL } from "node:url";

const [pkgDir, url, name, outPath] = process.argv.slice(2);
const { ChromaClient } = await import(
	pathToFileURL(`${pkgDir}/node_modules/chromadb/dist/chromadb.mjs`).href);
const u = new URL(url);
const client = new ChromaClient({ host: u.hostname, port: Number(u.port), ssl: false });
const coll = await client.getCollection({ name });
const out = createWriteStream(outPath);
const t0 = process.hrtime.bigint();
let n = 0;
for (let offset = 0; ; offset += 1000) {
	const r = await coll.get({ limit: 1000, offset,
		include: ["embeddings", "documents", "metadatas"] });
	for (let i = 0; i < r.ids.length; i++) {
		const line = JSON.stringify({ id: r.ids[i], metadata: r.metadatas[i],
			embedding: r.embeddings[i], text_chunk: r.documents[i] }) + "\n";
		if (!out.write(line))
			await once(out, "drain");
	}
	n += r.ids.length;
	if (r.ids.length < 1000)
		break;
}
out.end();
await once(out, "finish");
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ records: n, seconds: secs }));
