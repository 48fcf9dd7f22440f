// Drives Turnout's Messages API with the official `@anthropic-ai/sdk` package.
//
// Usage: node anthropic_sdk.mjs BASE_URL CLIENT_KEY (with NODE_PATH holding the package)
//
// Exits non-zero when a check fails.

import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const { default: Anthropic } = require("@anthropic-ai/sdk");

const [baseURL, apiKey] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const messages = [{ role: "user", content: "Hello" }];

const message = await client.messages.create({
  model: "claude-sonnet-4-5",
  max_tokens: 256,
  messages,
});
assert.equal(message.type, "message");
assert.equal(message.content[0].type, "text");
assert.equal(message.content[0].text, "Mock reply to: Hello");
assert.equal(message.stop_reason, "end_turn");
console.log("non-streaming ok:", message.id);

const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 256, messages });
let text = "";
stream.on("text", (delta) => {
  text += delta;
});
const final = await stream.finalMessage();
assert.equal(text, "Mock reply to: Hello");
assert.equal(final.stop_reason, "end_turn");
console.log("streaming ok");

try {
  await new Anthropic({ baseURL, apiKey: "sk-wrong", maxRetries: 0 }).messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 16,
    messages,
  });
  assert.fail("a wrong key was accepted");
} catch (err) {
  assert.ok(err instanceof Anthropic.AuthenticationError, String(err));
}
console.log("401 ok");
