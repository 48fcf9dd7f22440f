"""Asks the same questions of one model per provider kind with the official `openai` package.

Usage: python native_sdk.py BASE_URL CLIENT_KEY MODEL...

Prints one JSON object per line: for each model, the canonical answer (content, reasoning,
tool calls with arguments, finish reason, usage and cost) to each question, streaming and not.
The Rust test compares the answers across models. Exits non-zero when the SDK fails.
"""

import json
import sys

from openai import OpenAI

base_url, key, models = sys.argv[1], sys.argv[2], sys.argv[3:]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)

QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
            "required": ["city", "sunny"],
            "additionalProperties": False,
        },
    },
}
CASES = {
    "text": {},
    "tools": {"tools": TOOLS},
    "json_schema": {"response_format": SCHEMA},
    "reasoning": {"extra_body": {"reasoning": {"effort": "high"}}},
}


def usage_of(usage):
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost": getattr(usage, "cost", None),
    }


def whole(model, extra):
    completion = client.chat.completions.create(model=model, messages=QUESTION, **extra)
    choice = completion.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant", choice
    return {
        "content": choice.message.content or "",
        "reasoning": getattr(choice.message, "reasoning", None) or "",
        "tool_calls": [
            [call.function.name, json.loads(call.function.arguments)]
            for call in choice.message.tool_calls or []
        ],
        "finish_reason": choice.finish_reason,
        "usage": usage_of(completion.usage),
    }


def streamed(model, extra):
    stream = client.chat.completions.create(model=model, messages=QUESTION, stream=True, **extra)
    content, reasoning, calls, finish, usage = "", "", {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = usage_of(chunk.usage)
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += getattr(choice.delta, "reasoning", None) or ""
            for call in choice.delta.tool_calls or []:
                name, arguments = calls.get(call.index, ("", ""))
                calls[call.index] = (
                    name + (call.function.name or ""),
                    arguments + (call.function.arguments or ""),
                )
            finish = choice.finish_reason or finish
    return {
        "content": content,
        "reasoning": reasoning,
        "tool_calls": [[name, json.loads(args)] for _, (name, args) in sorted(calls.items())],
        "finish_reason": finish,
        "usage": usage,
    }


for model in models:
    for case, extra in CASES.items():
        print(json.dumps({"model": model, "case": case, "stream": False, "answer": whole(model, extra)}))
        print(json.dumps({"model": model, "case": case, "stream": True, "answer": streamed(model, extra)}))
