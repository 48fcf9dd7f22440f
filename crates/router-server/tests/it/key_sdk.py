"""`GET /api/v1/key` read by the official `openrouter` Python SDK, which validates the response.

Usage: key_sdk.py BASE_URL LIMITED_KEY PLAIN_KEY. Exits non-zero (an exception) on a mismatch.
"""

import sys

from openrouter import OpenRouter

base_url, limited, plain = sys.argv[1], sys.argv[2], sys.argv[3]

with OpenRouter(api_key=limited, server_url=base_url) as client:
    data = client.api_keys.get_current_key_metadata().data
    assert data.label == "credit", data
    assert data.limit == 0.01, data
    assert data.limit_reset == "daily", data
    assert data.limit_remaining is not None and data.limit_remaining <= 0.01, data
    assert data.is_provisioning_key is False, data
    assert data.effective_budget is not None, data
    assert data.effective_budget.scope == "key_limit", data
    assert len(data.budgets) == 1, data

with OpenRouter(api_key=plain, server_url=base_url) as client:
    data = client.api_keys.get_current_key_metadata().data
    assert data.label == "rate", data
    assert data.limit is None and data.limit_remaining is None, data
    assert data.effective_budget is None and data.budgets == [], data
    assert data.rate_limit.requests == 60, data
print("ok")
