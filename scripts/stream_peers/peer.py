"""What both passthrough peers of scripts/bench_streams.py share: one google-genai client for
the Gemini stand-in (base_url, as chat/upstream.py sets it), the model, and chat's SSE events."""

import json
import os

from google import genai
from google.genai import types

CLIENT = genai.Client(api_key=os.environ["GEMINI_API_KEY"], http_options=types.HttpOptions(
    base_url=os.environ["GEMINI_BASE_URL"], api_version="v1beta"))
MODEL = os.environ["BENCH_MODEL"]


def event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"
