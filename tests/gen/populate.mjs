// Fills a real Chroma server (v2 HTTP API, no npm packages) with test data.
// Deterministic: seeded PRNG, so a scenario writes the same records each run.
//   node tests/gen/populate.mjs URL diff               every write path the reader must replay
//   node tests/gen/populate.mjs URL sample             the small demo database (2 collections, 188 records)
//   node tests/gen/populate.mjs URL bench N DIM        N records of DIM floats in cosine collection "bench"
//   node tests/gen/populate.mjs URL bench-more N DIM START   N more "bench" records, ids from START

const USAGE = "usage: populate.mjs URL diff|sample|bench N DIM|bench-more N DIM START";

// ---- JSON with exact types: BigInt is written as an integer, F(x) always
// as a float ("2.0"), so the server stores int and float metadata as meant.

class F {
	constructor(v) { this.v = v; }
}
const f = (v) => new F(v);

function floatText(v) {
	if (!Number.isFinite(v)) throw new Error(`not a finite float: ${v}`);
	if (Object.is(v, -0)) return "-0.0";
	const s = String(v);
	return /[.eE]/.test(s) ? s : s + ".0";
}

function enc(x) {
	if (x === null || x === undefined) return "null";
	if (x instanceof F) return floatText(x.v);
	switch (typeof x) {
	case "bigint": return x.toString();
	case "number": return Number.isInteger(x) ? String(x) : floatText(x);
	case "boolean": return x ? "true" : "false";
	case "string": return JSON.stringify(x);
	}
	if (Array.isArray(x)) return "[" + x.map(enc).join(",") + "]";
	return "{" + Object.entries(x).map(([k, v]) => JSON.stringify(k) + ":" + enc(v)).join(",") + "}";
}

// ---- the HTTP API

class Chroma {
	constructor(url) {
		this.base = url.replace(/\/+$/, "") +
			"/api/v2/tenants/default_tenant/databases/default_database";
	}

	async call(method, path, body) {
		const res = await fetch(this.base + path, {
			method,
			headers: { "content-type": "application/json" },
			body: body === undefined ? undefined : enc(body),
		});
		const text = await res.text();
		if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 400)}`);
		return text ? JSON.parse(text) : null;
	}

	async create(name, metadata, configuration) {
		const body = { name };
		if (metadata) body.metadata = metadata;
		if (configuration) body.configuration = configuration;
		return (await this.call("POST", "/collections", body)).id;
	}

	async collectionId(name) {
		return (await this.call("GET", `/collections/${encodeURIComponent(name)}`)).id;
	}

	deleteCollection(name) {
		return this.call("DELETE", `/collections/${encodeURIComponent(name)}`);
	}

	records(cid, op, body) {
		return this.call("POST", `/collections/${cid}/${op}`, body);
	}
}

// ---- deterministic data

function prng(seed) { // mulberry32: floats in [0, 1)
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const pick = (rng, list) => list[Math.floor(rng() * list.length)];
const vec = (rng, dim) => Array.from({ length: dim }, () => Math.fround(rng() * 2 - 1));
const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);

// Embeddings as the server's base64 form: little-endian float32 per vector.
const base64Vectors = (vs) => vs.map((v) => Buffer.from(new Float32Array(v).buffer).toString("base64"));

const WORDS = ("vector index backup restore chroma record shard page query cosine distance " +
	"metadata embedding document collection tenant database snapshot archive river mountain " +
	"quiet signal copy verify harbor lantern meadow orbit pepper quartz saddle timber velvet " +
	"willow yonder zephyr amber basil cobalt delta ember fable glacier hollow").split(" ");
const words = (rng, n) => Array.from({ length: n }, () => pick(rng, WORDS)).join(" ");

const ODD_STRINGS = ["plain", 'quote " and backslash \\', "tab\tnewline\nreturn\r",
	"ctrl \u0001\u001f\u007f end", "你好世界", "emoji 😀👍🏽", "", "accents éèñ",
	"line\u2028sep", "right-to-left עברית", "{\"json\": [1, 2]}"];
const INTS = [0n, 1n, -1n, 42n, 2n ** 31n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n,
	-(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 1234567890123456789n];
const FLOATS = [2.0, 0.1, 1e-300, -1.5e10, 3.141592653589793, 1e21, 0.5, 5e-324,
	1.7976931348623157e308, -2.5, 1 / 3];

// Ids: mostly "id-K", some with unicode, emoji, quotes, backslash and control characters.
function idOf(k) {
	switch (k % 50) {
	case 7: return `id-${k}-ü你好😀`;
	case 13: return `id-${k}\t"q"\\\u0001`;
	case 29: return `id-${k} space\nnewline`;
	default: return `id-${k}`;
	}
}

function meta(k) {
	if (k % 11 === 0) return null;
	const m = {
		i: INTS[k % INTS.length],
		f: f(FLOATS[k % FLOATS.length]),
		s: ODD_STRINGS[k % ODD_STRINGS.length],
		b: k % 3 === 0,
	};
	if (k % 4 === 0) {
		m.ia = [BigInt(k), 2n ** 53n + 1n, -(2n ** 63n)];
		m.fa = [f(0.25), f(2.0), f(1e-300)];
		m.sa = ["x", ODD_STRINGS[k % ODD_STRINGS.length]];
		m.ba = [true, false, true];
	}
	if (k % 5 === 0) m["键 😀\t\"k\"\\"] = `val ${k}\u0001`;
	if (k % 6 === 0) m.zero = f(0.0);
	return m;
}

function doc(rng, k) {
	if (k % 9 === 0) return null;
	return `doc ${k}: ${words(rng, 8)} ${ODD_STRINGS[k % ODD_STRINGS.length]}`;
}

// add/upsert of full records for keys, in batches of `step` (not a multiple of
// the flush threshold, so flushes fall inside batches).
async function addRecords(c, cid, rng, keys, dim, op = "add", step = 37) {
	for (let i = 0; i < keys.length; i += step) {
		const part = keys.slice(i, i + step);
		const vs = part.map(() => vec(rng, dim));
		const body = {
			ids: part.map(idOf),
			embeddings: part[0] % 3 === 0 ? base64Vectors(vs) : vs,
			documents: part.map((k) => doc(rng, k)),
			metadatas: part.map(meta),
		};
		if (part[0] % 2 === 0) body.uris = part.map((k) => (k % 3 ? `s3://bucket/${idOf(k)}` : null));
		await c.records(cid, op, body);
	}
}

// Updates of each kind, upserts of old and new ids, deletes, re-adds; n is
// the count of records added before.
async function churn(c, cid, rng, dim, n) {
	const ids = (a, b) => range(a, b).map(idOf);
	// embedding only
	await c.records(cid, "update", { ids: ids(0, 20), embeddings: range(0, 20).map(() => vec(rng, dim)) });
	// metadata only: "s" deleted (null), keys added, an array turned scalar
	await c.records(cid, "update", {
		ids: ids(20, 40),
		metadatas: range(20, 40).map((k) => ({ s: null, new: BigInt(k), f: f(2.0), ia: "scalar now" })),
	});
	// document only
	await c.records(cid, "update", { ids: ids(40, 50), documents: range(40, 50).map((k) => `updated ${k} ✓\n`) });
	// upserts: existing and new ids together
	await c.records(cid, "upsert", {
		ids: [...ids(50, 65), ...ids(n, n + 15)],
		embeddings: range(0, 30).map(() => vec(rng, dim)),
		metadatas: range(0, 30).map((k) => ({ up: BigInt(k), s: null, big: 9007199254740993n })),
		documents: range(0, 30).map((k) => `upserted ${k}`),
	});
	// upsert of existing ids with an embedding only
	await c.records(cid, "upsert", { ids: ids(95, 100), embeddings: range(95, 100).map(() => vec(rng, dim)) });
	// deletes, one id that never existed among them
	await c.records(cid, "delete", { ids: [...ids(65, 90), "never-existed"] });
	// re-add of deleted ids, with new content
	await addRecords(c, cid, rng, range(70, 75), dim);
	// the last ones again, after everything else
	await c.records(cid, "update", {
		ids: ids(n - 5, n),
		embeddings: range(0, 5).map(() => vec(rng, dim)),
		metadatas: range(0, 5).map(() => ({ late: true, neg: -9223372036854775808n })),
	});
}

const FLUSH = { sync_threshold: 50, batch_size: 50 };

async function scenarioDiff(c) {
	const rng = prng(20261124);
	for (const [space, dim] of [["l2", 16], ["cosine", 12], ["ip", 8]]) {
		const cid = await c.create(`${space}-coll`,
			{ space, owner: "tests", n: 3n, big: 9007199254740993n, ratio: f(2.0), ok: true, "名前": "テスト 😀" },
			{ hnsw: { space, ...FLUSH } });
		await addRecords(c, cid, rng, range(0, 300), dim);
		await churn(c, cid, rng, dim, 300);
	}
	// below the default sync_threshold (1000): WAL only
	let cid = await c.create("wal-only", { note: "below sync_threshold" });
	await addRecords(c, cid, rng, range(0, 30), 6);
	await churn(c, cid, rng, 6, 120);
	await c.create("empty-coll", { note: "no records" });
	// flushed, then deleted: its folder stays on disk
	cid = await c.create("gone-coll", null, { hnsw: FLUSH });
	await addRecords(c, cid, rng, range(0, 120), 4);
	await c.deleteCollection("gone-coll");
}

const TOPICS = {
	backups: ["Keep three copies of your data, on two media, one off site.",
		"An untested backup is only a hope; restore one every month.",
		"Incremental snapshots store only the blocks that changed.",
		"Checksums catch the silent corruption that copies carry along."],
	recipes: ["Toast the spices in a dry pan before grinding them.",
		"A pinch of salt makes chocolate taste more like chocolate.",
		"Rest the dough for an hour so the gluten can relax.",
		"Deglaze the pan with wine and scrape up the brown bits."],
	astronomy: ["Jupiter's great red spot is a storm larger than Earth.",
		"The light from the Andromeda galaxy left it 2.5 million years ago.",
		"A neutron star spoon of matter would weigh a billion tonnes.",
		"Saturn's rings are mostly water ice, some pieces as big as houses."],
	gardening: ["Water tomatoes deeply and rarely, at the roots, in the morning.",
		"Marigolds planted between rows keep many pests away.",
		"Compost needs greens and browns in about equal measure.",
		"Prune roses in late winter, just as the buds begin to swell."],
};

async function scenarioSample(c) {
	const rng = prng(7);
	const topics = Object.keys(TOPICS);
	const cid = await c.create("articles", { description: "short articles on four topics", version: 2n },
		{ hnsw: { space: "cosine", sync_threshold: 100 } });
	for (let k = 0; k < 150; k += 50) {
		const ks = range(k, k + 50);
		await c.records(cid, "add", {
			ids: ks.map((i) => `article-${String(i).padStart(3, "0")}`),
			embeddings: ks.map(() => vec(rng, 16)),
			documents: ks.map((i) => {
				const t = topics[i % 4];
				return `Article ${i} (${t}): ${pick(rng, TOPICS[t])} ${pick(rng, TOPICS[t])}`;
			}),
			metadatas: ks.map((i) => ({
				topic: topics[i % 4], year: BigInt(2020 + (i % 6)), score: f(i / 8), published: i % 5 !== 0,
			})),
		});
	}
	await c.records(cid, "update", {
		ids: ["article-001"], documents: ["Article 1 (recipes), revised: taste as you go."],
	});
	await c.records(cid, "delete", { ids: ["article-002", "article-003"] });
	const iid = await c.create("images", { description: "photo embeddings with their file URIs" });
	const ids = range(0, 40).map((i) => `img-${i}`);
	await c.records(iid, "add", {
		ids,
		embeddings: ids.map(() => vec(rng, 16)),
		uris: ids.map((i) => `file:///photos/${i}.jpg`),
		metadatas: ids.map((_, i) => ({
			camera: pick(rng, ["fuji x100", "pixel 8"]), width: 4000n, height: 3000n,
			tags: [pick(rng, ["beach", "city", "forest"]), pick(rng, ["day", "night"])],
		})),
	});
}

// Bench records in batches of 1000; the next batch is built while the server
// stores the current one. Embeddings go as base64 float32.
async function scenarioBench(c, n, dim, start) {
	const rng = prng(1 + start);
	const cid = start ? await c.collectionId("bench") : await c.create("bench", null, { hnsw: { space: "cosine" } });
	const step = 1000;
	const batch = (k) => {
		const ks = range(k, Math.min(k + step, start + n));
		return {
			ids: ks.map((i) => `rec-${String(i).padStart(8, "0")}`),
			embeddings: base64Vectors(ks.map(() => vec(rng, dim))),
			documents: ks.map(() => words(rng, 60)),
			metadatas: ks.map((i) => ({
				source: `file-${i % 97}.pdf`, page: BigInt(i % 500), score: f(rng()), reviewed: i % 2 === 0,
			})),
		};
	};
	let pending = null;
	for (let k = start; k < start + n; k += step) {
		const body = batch(k);
		if (pending) await pending;
		pending = c.records(cid, "add", body);
	}
	if (pending) await pending;
}

async function main() {
	const [url, what, ...args] = process.argv.slice(2);
	if (!url || !what) throw new Error(USAGE);
	const c = new Chroma(url);
	const num = (s) => {
		const v = Number(s);
		if (!Number.isInteger(v) || v < 0) throw new Error(USAGE);
		return v;
	};
	if (what === "diff") await scenarioDiff(c);
	else if (what === "sample") await scenarioSample(c);
	else if (what === "bench") await scenarioBench(c, num(args[0]), num(args[1]), 0);
	else if (what === "bench-more") await scenarioBench(c, num(args[0]), num(args[1]), num(args[2]));
	else throw new Error(USAGE);
}

main().catch((e) => {
	console.error(`populate.mjs: ${e.message}`);
	process.exit(1);
});
