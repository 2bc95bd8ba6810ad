"""Contract test: OpenAICaptioner against a local server that plays the OpenAI chat API.

The server (stdlib http.server on 127.0.0.1, a free port, in a background thread) checks every
request the real SDK sends — path, bearer key, model, a JPEG data-URL image part, the detector
hint, a strict json_schema response format with our required fields — and answers with
chat.completion JSON (with usage), or with scripted errors (429 + Retry-After, 500, 400).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from core.domain import Box, Crop
from core.errors import CaptionerError, SpendCapReached
from core.settings import CaptionerSettings
from services.captioner.openai_captioner import OpenAICaptioner, make_openai_client
from services.captioner.retry import Backoff

pytestmark = [pytest.mark.contract, pytest.mark.timeout(20)]

API_KEY = "sk-contract-test"
MODEL = "gpt-4o"
REQUIRED = {"caption", "category", "colours", "pattern", "material", "style"}
GOOD_ANSWER = {
    "caption": "red leather handbag",
    "category": "handbag",
    "colours": ["Red", "gold"],
    "pattern": "solid",
    "material": "leather",
    "style": None,
}


@dataclass
class Reply:
    status: int = 200
    content: str = json.dumps(GOOD_ANSWER)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeOpenAIServer:
    url: str = ""
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def check(self, path: str, headers: Any, body: dict[str, Any]) -> None:
        def expect(ok: bool, what: str) -> None:
            if not ok:
                self.violations.append(what)

        expect(path == "/v1/chat/completions", f"path {path}")
        expect(headers.get("Authorization") == f"Bearer {API_KEY}", "bearer key")
        expect(body.get("model") == MODEL, f"model {body.get('model')}")
        parts = [
            p
            for m in body.get("messages", [])
            if isinstance(m["content"], list)
            for p in m["content"]
        ]
        urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        expect(len(urls) == 1, "exactly one image part")
        prefix = "data:image/jpeg;base64,"
        if urls and urls[0].startswith(prefix):
            image = Image.open(io.BytesIO(base64.b64decode(urls[0][len(prefix) :])))
            expect(image.format == "JPEG", f"image decodes as {image.format}")
            expect(max(image.size) <= 512, f"image not downscaled: {image.size}")
        else:
            expect(False, "image part is not a JPEG data URL")
        texts = " ".join(p.get("text", "") for p in parts if p.get("type") == "text")
        expect("handbag" in texts, "detector class missing from the prompt")
        fmt = body.get("response_format", {})
        schema = fmt.get("json_schema", {}).get("schema", {})
        expect(fmt.get("type") == "json_schema", "response_format type")
        expect(fmt.get("json_schema", {}).get("strict") is True, "strict structured output")
        expect(set(schema.get("required", [])) >= REQUIRED, "schema required fields")
        expect(schema.get("additionalProperties") is False, "schema allows extra properties")

    def answer(self, reply: Reply) -> tuple[int, dict[str, str], bytes]:
        if reply.status != 200:
            error = {"error": {"message": f"scripted {reply.status}", "type": "test"}}
            return reply.status, reply.headers, json.dumps(error).encode()
        completion = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": f"{MODEL}-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 50, "total_tokens": 350},
        }
        return 200, reply.headers, json.dumps(completion).encode()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    state = FakeOpenAIServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state.requests.append(body)
                state.check(self.path, self.headers, body)
                reply = state.script.pop(0) if state.script else Reply()
                status, headers, payload = state.answer(reply)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def settings_for(server: FakeOpenAIServer, **overrides: Any) -> CaptionerSettings:
    values: dict[str, Any] = {
        "backend": "openai",
        "model": MODEL,
        "base_url": server.url,
        "api_key": API_KEY,
        "timeout_s": 5.0,
        "max_retries": 3,
    }
    return CaptionerSettings(**(values | overrides))


def captioner_for(settings: CaptionerSettings, backoff: Backoff | None = None) -> OpenAICaptioner:
    return OpenAICaptioner(
        make_openai_client(settings), settings, backoff=backoff or Backoff(base_s=0.01)
    )


def handbag_crop(colour: tuple[int, int, int] = (200, 30, 40), size: int = 900) -> Crop:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((size // 5, size // 3, size * 4 // 5, size * 9 // 10), colour)
    return Crop("object", "handbag", 0.9, Box(0, 0, size, size), image)


async def test_a_rate_limited_request_is_retried_after_retry_after_and_succeeds(server):
    server.script = [Reply(status=429, headers={"Retry-After": "0"})]
    # a backoff far longer than the test timeout: only honouring Retry-After: 0 can pass
    captioner = captioner_for(settings_for(server), backoff=Backoff(base_s=60, max_s=60))

    caption = await captioner.caption(handbag_crop())

    assert server.violations == []
    assert len(server.requests) == 2
    assert caption.caption == "red leather handbag"
    assert caption.attributes.category == "handbag"
    assert caption.attributes.colours == ("red", "gold")
    assert caption.attributes.material == "leather"
    assert caption.model == "gpt-4o-2024-08-06"
    await captioner.aclose()


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({k: v for k, v in GOOD_ANSWER.items() if k != "colours"}),
        json.dumps(GOOD_ANSWER | {"pattern": "paisley-ish"}),
        json.dumps(GOOD_ANSWER | {"caption": ""}),
    ],
    ids=["not-json", "missing-field", "unknown-pattern", "empty-caption"],
)
async def test_a_malformed_answer_raises_captioner_error(server, content):
    server.script = [Reply(content=content)]
    captioner = captioner_for(settings_for(server))

    with pytest.raises(CaptionerError, match="malformed"):
        await captioner.caption(handbag_crop())
    assert len(server.requests) == 1


async def test_a_repeated_crop_is_served_from_the_cache_also_after_a_restart(server, tmp_path):
    settings = settings_for(server, cache_dir=tmp_path / "captions")
    first = captioner_for(settings)

    a = await first.caption(handbag_crop())
    b = await first.caption(handbag_crop())
    after_restart = await captioner_for(settings).caption(handbag_crop())

    assert len(server.requests) == 1
    assert a == b == after_restart
    assert list(Path(tmp_path / "captions").rglob("*.json"))


async def test_once_the_spend_cap_is_reached_no_further_call_is_made(server):
    # one answer is 300 prompt + 50 completion tokens at gpt-4o prices = $0.00125
    captioner = captioner_for(settings_for(server, spend_cap_usd=0.001))

    await captioner.caption(handbag_crop((200, 30, 40)))
    with pytest.raises(SpendCapReached):
        await captioner.caption(handbag_crop((30, 60, 200)))

    assert len(server.requests) == 1
    assert captioner.spend.spent_usd == pytest.approx(0.00125)


async def test_a_server_error_is_retried(server):
    server.script = [Reply(status=500), Reply(status=503)]
    captioner = captioner_for(settings_for(server))

    caption = await captioner.caption(handbag_crop())

    assert caption.attributes.category == "handbag"
    assert len(server.requests) == 3


async def test_a_bad_request_is_not_retried(server):
    server.script = [Reply(status=400)]
    captioner = captioner_for(settings_for(server))

    with pytest.raises(CaptionerError, match="400"):
        await captioner.caption(handbag_crop())
    assert len(server.requests) == 1


async def test_retries_stop_after_max_retries(server):
    server.script = [Reply(status=429, headers={"Retry-After": "0"})] * 5
    captioner = captioner_for(settings_for(server, max_retries=2))

    with pytest.raises(CaptionerError, match="429"):
        await captioner.caption(handbag_crop())
    assert len(server.requests) == 3
