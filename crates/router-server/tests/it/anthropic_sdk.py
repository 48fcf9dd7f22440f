"""Drives Turnout's Messages API with the official `anthropic` Python package.

Usage: python anthropic_sdk.py BASE_URL CLIENT_KEY

The server's catalog maps `claude-sonnet-4-5` to a model that reasons before it answers and
`claude-haiku-4-5` to one that calls `get_weather`; `test/limited` always answers 429.
Exits non-zero (with a traceback) when any check fails.
"""

import sys

import anthropic
from anthropic import Anthropic

base_url, key = sys.argv[1], sys.argv[2]
client = Anthropic(base_url=base_url, api_key=key, max_retries=0, timeout=30)
hello = [{"role": "user", "content": "Hello"}]
expected = "Mock reply to: Hello"

# Non-streaming, with thinking.
message = client.messages.create(
    model="claude-sonnet-4-5",
    max_tokens=2048,
    messages=hello,
    thinking={"type": "enabled", "budget_tokens": 1024},
)
assert message.type == "message", message
assert message.id.startswith("gen-"), message.id
assert message.model == "test/agent", message.model
assert [block.type for block in message.content] == ["thinking", "text"], message.content
assert message.content[0].thinking == "Think first.", message.content[0]
assert message.content[0].signature == "mock-signature-v1", message.content[0]
assert message.content[1].text == expected, message.content[1]
assert message.stop_reason == "end_turn", message.stop_reason
assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0, message.usage
print("non-streaming ok:", message.id)

# Streaming through the SDK's accumulator (which checks the event order), with thinking.
with client.messages.stream(
    model="claude-sonnet-4-5",
    max_tokens=2048,
    messages=hello,
    thinking={"type": "enabled", "budget_tokens": 1024},
) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert text == expected, text
assert [block.type for block in final.content] == ["thinking", "text"], final.content
assert final.content[0].signature == "mock-signature-v1", final.content[0]
assert final.stop_reason == "end_turn", final.stop_reason
assert final.usage.output_tokens > 0, final.usage
print("streaming ok")

# Raw events with stream=True.
events = list(
    client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=hello, stream=True)
)
kinds = [event.type for event in events]
assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
assert "message_delta" in kinds, kinds
print("raw stream ok:", len(events), "events")

# A tool call, then the tool's result.
tools = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
question = {"role": "user", "content": "Weather in Paris?"}
call = client.messages.create(
    model="claude-haiku-4-5", max_tokens=256, messages=[question], tools=tools
)
assert call.stop_reason == "tool_use", call
tool_use = call.content[-1]
assert tool_use.type == "tool_use" and tool_use.name == "get_weather", tool_use
with client.messages.stream(
    model="claude-haiku-4-5", max_tokens=256, messages=[question], tools=tools
) as stream:
    streamed_call = stream.get_final_message()
assert streamed_call.stop_reason == "tool_use", streamed_call
assert streamed_call.content[-1].type == "tool_use", streamed_call.content
assert streamed_call.content[-1].input == {"city": "mock"}, streamed_call.content
answer = client.messages.create(
    model="claude-sonnet-4-5",
    max_tokens=256,
    tools=tools,
    messages=[
        question,
        {"role": "assistant", "content": call.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "Sunny"}],
        },
    ],
)
assert answer.stop_reason == "end_turn", answer
assert answer.content[-1].type == "text", answer.content
print("tools ok")

# A wrong key is the SDK's AuthenticationError (401).
try:
    Anthropic(base_url=base_url, api_key="sk-wrong", max_retries=0).messages.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=hello
    )
    raise AssertionError("a wrong key was accepted")
except anthropic.AuthenticationError as err:
    assert err.status_code == 401
    assert err.body["error"]["type"] == "authentication_error", err.body
print("401 ok")

# A bad request is the SDK's BadRequestError (400).
try:
    client.messages.create(model="nope/missing", max_tokens=16, messages=hello)
    raise AssertionError("an unknown model was accepted")
except anthropic.BadRequestError as err:
    assert err.status_code == 400
    assert err.body["error"]["type"] == "invalid_request_error", err.body
print("400 ok")

# An upstream 429 is the SDK's RateLimitError.
try:
    client.messages.create(model="test/limited", max_tokens=16, messages=hello)
    raise AssertionError("a rate-limited model answered")
except anthropic.RateLimitError as err:
    assert err.status_code == 429
    assert err.body["error"]["type"] == "rate_limit_error", err.body
print("429 ok")
