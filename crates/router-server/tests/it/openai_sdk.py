"""Drives Turnout with the official `openai` Python package.

Usage: python openai_sdk.py BASE_URL CLIENT_KEY

Exits non-zero (with a traceback) when any check fails.
"""

import sys

import openai
from openai import OpenAI

base_url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
messages = [{"role": "user", "content": "Hello"}]
expected = "Mock reply to: Hello"

# Non-streaming.
completion = client.chat.completions.create(model="test/one", messages=messages)
assert completion.id.startswith("gen-"), completion.id
assert completion.model == "test/one", completion.model
assert completion.object == "chat.completion"
assert completion.choices[0].message.content == expected, completion.choices[0].message
assert completion.choices[0].finish_reason == "stop"
assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
assert completion.usage.completion_tokens > 0
print("non-streaming ok:", completion.id)

# Streaming.
stream = client.chat.completions.create(model="test/one", messages=messages, stream=True)
text = ""
chunks = list(stream)
for chunk in chunks:
    assert chunk.model == "test/one", chunk.model
    assert chunk.id == chunks[0].id
    for choice in chunk.choices:
        text += choice.delta.content or ""
assert text == expected, text
assert chunks[-1].choices == [], chunks[-1]
assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, chunks[-1]
print("streaming ok:", len(chunks), "chunks")

# A wrong key is the SDK's AuthenticationError (401).
try:
    OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0).chat.completions.create(
        model="test/one", messages=messages
    )
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError as err:
    assert err.status_code == 401
print("401 ok")

# An unknown model is the SDK's BadRequestError (400).
try:
    client.chat.completions.create(model="nope/missing", messages=messages)
    raise AssertionError("an unknown model was accepted")
except openai.BadRequestError as err:
    assert err.status_code == 400
    assert "not a valid model ID" in str(err), str(err)
print("400 ok")
