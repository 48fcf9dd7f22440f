"""Drives Turnout's Responses API and legacy completions with the official `openai` package.

Usage: python openai_front_sdk.py BASE_URL CLIENT_KEY responses|completions

The server's catalog has `test/two` (plain text), `test/caller` (calls `get_weather`) and
`test/agent` (answers the JSON of WEATHER). Exits non-zero (with a traceback) when a check fails.
"""

import json
import sys

import openai
from openai import OpenAI
from pydantic import BaseModel

base_url, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
expected = "Mock reply to: Hello"
WEATHER = {"city": "Paris", "celsius": 21}


class Weather(BaseModel):
    city: str
    celsius: int


def responses():
    # Text, a string input.
    response = client.responses.create(model="test/two", input="Hello")
    assert response.object == "response", response
    assert response.id.startswith("gen-"), response.id
    assert response.status == "completed", response.status
    assert response.model == "test/two", response.model
    assert response.output_text == expected, response.output_text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0, response.usage
    print("create ok:", response.id)

    # Items and instructions.
    response = client.responses.create(
        model="test/two",
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}],
    )
    assert response.output_text == expected, response.output_text
    print("items ok")

    # Streaming, through the SDK's event accumulator.
    with client.responses.stream(model="test/two", input="Hello") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == expected, deltas
    assert final.output_text == expected, final
    assert final.status == "completed", final.status
    print("stream ok:", len(deltas), "deltas")

    # A function tool, non-streaming and streaming, then its output sent back.
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    response = client.responses.create(model="test/caller", input="Weather in Paris?", tools=tools)
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1, response.output
    call = calls[0]
    assert call.name == "get_weather" and call.arguments == '{"city":"mock"}', call
    with client.responses.stream(
        model="test/caller", input="Weather in Paris?", tools=tools
    ) as stream:
        argument_deltas = [
            event.delta for event in stream if event.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()
    assert "".join(argument_deltas) == '{"city":"mock"}', argument_deltas
    streamed_calls = [item for item in final.output if item.type == "function_call"]
    assert streamed_calls[0].name == "get_weather", final.output
    response = client.responses.create(
        model="test/agent",
        tools=tools,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"},
        ],
    )
    assert response.status == "completed", response
    print("function tool ok")

    # Structured output with text.format json_schema, raw and parsed, streaming and not.
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
        "required": ["city", "celsius"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="test/agent",
        input="The weather as JSON",
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == WEATHER, response.output_text
    parsed = client.responses.parse(model="test/agent", input="The weather", text_format=Weather)
    assert parsed.output_parsed == Weather(**WEATHER), parsed.output_parsed
    with client.responses.stream(model="test/agent", input="The weather", text_format=Weather) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_parsed == Weather(**WEATHER), final.output_parsed
    print("json_schema ok")

    # No stored responses: previous_response_id is a BadRequestError.
    try:
        client.responses.create(model="test/two", input="Hello", previous_response_id="resp_1")
        raise AssertionError("previous_response_id was accepted")
    except openai.BadRequestError as err:
        assert err.status_code == 400
        assert "previous_response_id" in str(err), str(err)
    try:
        OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0).responses.create(
            model="test/two", input="Hello"
        )
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as err:
        assert err.status_code == 401
    print("errors ok")


def completions():
    completion = client.completions.create(model="test/two", prompt="Hello", max_tokens=64)
    assert completion.object == "text_completion", completion
    assert completion.id.startswith("gen-"), completion.id
    assert completion.choices[0].text == expected, completion.choices[0]
    assert completion.choices[0].finish_reason == "stop", completion.choices[0]
    assert completion.usage.completion_tokens > 0, completion.usage
    print("create ok:", completion.id)

    chunks = list(client.completions.create(model="test/two", prompt=["Hello"], stream=True))
    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text == expected, text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, chunks[-1]
    print("stream ok:", len(chunks), "chunks")

    try:
        client.completions.create(model="test/two", prompt=["one", "two"])
        raise AssertionError("two prompts were accepted")
    except openai.BadRequestError as err:
        assert err.status_code == 400
    print("errors ok")


{"responses": responses, "completions": completions}[mode]()
