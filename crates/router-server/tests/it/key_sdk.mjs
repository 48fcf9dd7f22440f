// `GET /api/v1/key` read by the official `@openrouter/sdk` (TypeScript), which validates the
// response against its schema. Usage: node key_sdk.mjs SDK_DIR BASE_URL LIMITED_KEY PLAIN_KEY.
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [sdkDir, baseUrl, limited, plain] = process.argv.slice(2);
const entry = path.join(sdkDir, "node_modules/@openrouter/sdk/esm/index.js");
const { OpenRouter } = await import(pathToFileURL(entry).href);

const withLimit = await new OpenRouter({ apiKey: limited, serverURL: baseUrl })
  .apiKeys.getCurrentKeyMetadata();
assert.equal(withLimit.data.label, "credit");
assert.equal(withLimit.data.limit, 0.01);
assert.equal(withLimit.data.limitReset, "daily");
assert.ok(withLimit.data.limitRemaining <= 0.01);
assert.deepEqual(withLimit.data.allowedDataRegions, ["global"]);

const plainKey = await new OpenRouter({ apiKey: plain, serverURL: baseUrl })
  .apiKeys.getCurrentKeyMetadata();
assert.equal(plainKey.data.label, "rate");
assert.equal(plainKey.data.limit, null);
assert.equal(plainKey.data.rateLimit.requests, 60);
console.log("ok");
