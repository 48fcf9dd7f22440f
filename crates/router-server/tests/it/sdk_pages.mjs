// The model pages read by the official `@openrouter/sdk` (TypeScript), which validates every
// response against its schemas. Usage: node sdk_pages.mjs SDK_DIR BASE_URL CLIENT_KEY.
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [sdkDir, baseUrl, key] = process.argv.slice(2);
const entry = path.join(sdkDir, "node_modules/@openrouter/sdk/esm/index.js");
const { OpenRouter } = await import(pathToFileURL(entry).href);

const client = new OpenRouter({ apiKey: key, serverURL: baseUrl });
const listed = await client.endpoints.list({ author: "test", slug: "two" });
assert.equal(listed.data.id, "test/two");
assert.deepEqual(listed.data.endpoints.map((it) => it.tag), ["alpha", "beta"]);
assert.ok(listed.data.endpoints.some((it) => it.uptimeLast30m !== null));

const model = await client.models.get({ author: "test", slug: "two" });
assert.equal(model.data.id, "test/two");
console.log("ok");
