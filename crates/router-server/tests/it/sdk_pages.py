"""The model pages read by the official `openrouter` Python SDK and `openai`'s `models.retrieve`.

Usage: sdk_pages.py BASE_URL CLIENT_KEY. Exits non-zero (an exception) on the first mismatch.
"""

import sys

from openai import OpenAI
from openrouter import OpenRouter

base_url, key = sys.argv[1], sys.argv[2]

with OpenRouter(api_key=key, server_url=base_url) as client:
    listed = client.endpoints.list(author="test", slug="two")
    assert listed.data.id == "test/two", listed
    endpoints = listed.data.endpoints
    assert [it.tag for it in endpoints] == ["alpha", "beta"], endpoints
    answered = [it for it in endpoints if it.uptime_last_30m is not None]
    assert answered, "no endpoint reports its uptime after answering"
    assert answered[0].latency_last_30m is not None, answered[0]
    assert answered[0].throughput_last_30m is not None, answered[0]

    model = client.models.get(author="test", slug="two")
    assert model.data.id == "test/two", model
    assert model.data.links.details == "/api/v1/models/test/two/endpoints", model

retrieved = OpenAI(base_url=base_url, api_key=key).models.retrieve("test/two")
assert retrieved.id == "test/two", retrieved
assert retrieved.owned_by == "test", retrieved
print("ok")
