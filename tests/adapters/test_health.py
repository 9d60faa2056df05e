"""The deploy health check against small real HTTP servers."""

from aiohttp import web

from agentrun_tasks.adapters.health import check
from agentrun_tasks.core.model import HealthConfig
from agentrun_tasks.testing.aio import serving

FAST = HealthConfig(timeout=1.0, interval=0.1)


def app_answering(handler) -> web.Application:
    app = web.Application()
    app.router.add_post("/openai/v1/chat/completions", handler)
    return app


def completion(text: str):
    async def handler(request):
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": text}}]},
                                 headers={"x-agent-version": "3"})
    return handler


def test_a_completion_is_healthy_whatever_its_text_says():
    with serving(app_answering(completion("invalid: a word the agent may well say"))) as url:
        result = check(url, FAST)
    assert result.ok
    assert result.status == 200
    assert result.version == "3"
    assert result.attempts == 1
    assert result.detail.startswith("invalid: a word")


def test_a_200_that_is_no_chat_completion_is_not_healthy():
    async def html(request):
        return web.Response(text="<html>login</html>", content_type="text/html")

    with serving(app_answering(html)) as url:
        result = check(url, FAST)
    assert not result.ok
    assert result.attempts > 1
    assert "not an OpenAI chat completion" in result.detail


def test_errors_are_retried_until_the_timeout():
    async def broken(request):
        return web.json_response({"error": "boom"}, status=500)

    with serving(app_answering(broken)) as url:
        result = check(url, FAST)
    assert not result.ok
    assert result.status == 500
    assert result.attempts >= 2
