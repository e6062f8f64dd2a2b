// Dumps every record a real Chroma server returns (v2 HTTP API, no npm
// packages), for differential tests; numbers are kept as the server wrote them
// (64-bit ints exact, 2.0 stays a float), so JSON.parse is not used on data.
//   node tests/gen/dump.mjs URL > expected.jsonl
//     one object per record, sorted by (collection, id): keys collection, id,
//     embedding, document, metadata, uri -- the shape (and Python json.dumps
//     style) of shared/fixtures/real-world/*/expected.jsonl
//   node tests/gen/dump.mjs URL --collections
//     one object per collection: name, id, metadata, configuration_json, schema, dimension

const PAGE = 1000;

// ---- JSON parsing that keeps each number's source text

class Num {
	constructor(raw) { this.raw = raw; }
}

function parseJson(text) {
	let i = 0;
	const ws = () => {
		while (i < text.length && " \t\n\r".includes(text[i])) i++;
	};
	const fail = (what) => {
		throw new Error(`bad JSON at ${i}: ${what}: ${text.slice(i, i + 40)}`);
	};
	const value = () => {
		ws();
		const ch = text[i];
		if (ch === "{") {
			i++;
			const obj = {};
			ws();
			if (text[i] === "}") { i++; return obj; }
			for (;;) {
				ws();
				if (text[i] !== '"') fail("expected a key");
				const k = string();
				ws();
				if (text[i++] !== ":") fail("expected :");
				obj[k] = value();
				ws();
				if (text[i] === ",") { i++; continue; }
				if (text[i++] === "}") return obj;
				fail("expected , or }");
			}
		}
		if (ch === "[") {
			i++;
			const arr = [];
			ws();
			if (text[i] === "]") { i++; return arr; }
			for (;;) {
				arr.push(value());
				ws();
				if (text[i] === ",") { i++; continue; }
				if (text[i++] === "]") return arr;
				fail("expected , or ]");
			}
		}
		if (ch === '"') return string();
		for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
			if (text.startsWith(word, i)) { i += word.length; return v; }
		}
		const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
		m.lastIndex = i;
		const num = m.exec(text);
		if (!num) fail("unexpected character");
		i += num[0].length;
		return new Num(num[0]);
	};
	const string = () => {
		const start = i++;
		for (;;) {
			const j = text.indexOf('"', i);
			if (j < 0) fail("unterminated string");
			let bs = 0;
			for (let k = j - 1; text[k] === "\\"; k--) bs++;
			i = j + 1;
			if (bs % 2 === 0) break;
		}
		const raw = text.slice(start, i);
		return raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
	};
	const v = value();
	ws();
	if (i !== text.length) fail("trailing data");
	return v;
}

// ---- output in Python's json.dumps(sort_keys=True) style, numbers verbatim

function pyString(s) {
	let out = '"';
	for (let k = 0; k < s.length; k++) {
		const c = s.charCodeAt(k);
		if (c === 0x22) out += '\\"';
		else if (c === 0x5c) out += "\\\\";
		else if (c >= 0x20 && c < 0x7f) out += s[k];
		else if (c === 0x0a) out += "\\n";
		else if (c === 0x0d) out += "\\r";
		else if (c === 0x09) out += "\\t";
		else if (c === 0x08) out += "\\b";
		else if (c === 0x0c) out += "\\f";
		else out += "\\u" + c.toString(16).padStart(4, "0");
	}
	return out + '"';
}

const byCodePoint = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function dumps(v) {
	if (v === null || v === undefined) return "null";
	if (v instanceof Num) return v.raw;
	if (typeof v === "boolean") return v ? "true" : "false";
	if (typeof v === "string") return pyString(v);
	if (Array.isArray(v)) return "[" + v.map(dumps).join(", ") + "]";
	const keys = Object.keys(v).sort(byCodePoint);
	return "{" + keys.map((k) => pyString(k) + ": " + dumps(v[k])).join(", ") + "}";
}

// ---- the HTTP API

async function call(base, method, path, body) {
	const res = await fetch(base + path, {
		method,
		headers: { "content-type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 400)}`);
	return parseJson(text);
}

async function collections(base) {
	const all = [];
	for (let offset = 0; ; offset += 100) {
		const page = await call(base, "GET", `/collections?limit=100&offset=${offset}`);
		all.push(...page);
		if (page.length < 100) break;
	}
	return all.sort((a, b) => byCodePoint(a.name, b.name));
}

async function records(base, coll) {
	const out = [];
	for (let offset = 0; ; offset += PAGE) {
		const r = await call(base, "POST", `/collections/${coll.id}/get`, {
			limit: PAGE, offset, include: ["embeddings", "documents", "metadatas", "uris"],
		});
		const col = (key, k) => (r[key] ? r[key][k] : null);
		r.ids.forEach((id, k) => out.push({
			collection: coll.name, id, embedding: col("embeddings", k), document: col("documents", k),
			metadata: col("metadatas", k), uri: col("uris", k),
		}));
		if (r.ids.length < PAGE) return out;
	}
}

function write(line) {
	return new Promise((resolve) => {
		if (process.stdout.write(line + "\n")) resolve();
		else process.stdout.once("drain", resolve);
	});
}

async function main() {
	const [url, flag] = process.argv.slice(2);
	if (!url || (flag && flag !== "--collections")) {
		throw new Error("usage: dump.mjs URL [--collections]");
	}
	const base = url.replace(/\/+$/, "") + "/api/v2/tenants/default_tenant/databases/default_database";
	const colls = await collections(base);
	if (flag) {
		for (const c of colls) {
			await write(dumps({
				name: c.name, id: c.id, metadata: c.metadata, configuration_json: c.configuration_json,
				schema: c.schema, dimension: c.dimension,
			}));
		}
		return;
	}
	for (const c of colls) {
		const recs = await records(base, c);
		recs.sort((a, b) => byCodePoint(a.id, b.id));
		for (let k = 0; k < recs.length; k += PAGE) {
			await write(recs.slice(k, k + PAGE).map(dumps).join("\n"));
		}
	}
}

main().catch((e) => {
	console.error(`dump.mjs: ${e.message}`);
	process.exit(1);
});
