"""The example agent: a tiny OpenAI-compatible chat server, standard library only.

Copy this file to start your own agent. AgentRun runs it with the port in $FC_SERVER_PORT
(the emulator also sets $PORT) and the published version in $AGENTRUN_RUNTIME_VERSION.

    POST /openai/v1/chat/completions   a chat.completion, or SSE chunks with "stream": true
    GET  /openai/v1/models             the one model this agent serves
    GET  /  and  GET /health           200, for health checks

The answer is derived from the last user message only (no model, no network), so tests can
predict it. Environment variables inject faults for release rehearsals: AGENT_FAULT_RATE
(0..1, that share of chat requests answer 500), AGENT_FAULT_MATCH (requests whose last user
message contains this text answer 500: a fault the gates' probe, which says "ping", never meets
and only real traffic shows) and AGENT_LATENCY_MS.
"""

import json
import os
import random
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = "Hello from the example agent"
MODEL = "example-agent"

VERSION = os.environ.get("AGENTRUN_RUNTIME_VERSION", "LATEST")
FAULT_RATE = float(os.environ.get("AGENT_FAULT_RATE", "0"))
FAULT_MATCH = os.environ.get("AGENT_FAULT_MATCH", "")
LATENCY_MS = float(os.environ.get("AGENT_LATENCY_MS", "0"))


def answer(messages):
    """The reply to a conversation: the greeting and the last user message, echoed."""
    said = ""
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # the multi-part form: keep the text parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            said = content or ""
    return f"{GREETING} (version {VERSION}). You said: {said}"


def completion(reply, model):
    """A whole chat.completion object (the non-streaming answer)."""
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(reply.split()),
                  "total_tokens": len(reply.split())},
    }


def chunks(reply, model):
    """The same answer as chat.completion.chunk objects: role, one word each, then stop."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None}]}
    for i, word in enumerate(reply.split(" ")):
        text = word if i == 0 else " " + word
        yield {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the platform reuses connections
    wbufsize = 64 * 1024  # buffer the response: headers and body leave in one send
    disable_nagle_algorithm = True  # and each stream event leaves at once when flushed

    def do_GET(self):
        if self.path in ("/", "/health"):
            self.send_json(200, {"status": "ok", "version": VERSION})
        elif self.path == "/openai/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "agentrun-tasks"}]})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/openai/v1/chat/completions":
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            request = json.loads(body or b"{}")
            messages = request["messages"]
        except (ValueError, KeyError, TypeError):
            self.send_json(400, {"error": {"message": "expected JSON with 'messages'",
                                           "type": "invalid_request_error"}})
            return
        if LATENCY_MS:
            time.sleep(LATENCY_MS / 1000)
        if random.random() < FAULT_RATE:
            self.send_json(500, {"error": {"message": "injected fault (AGENT_FAULT_RATE)",
                                           "type": "server_error"}})
            return
        reply = answer(messages)
        if FAULT_MATCH and FAULT_MATCH in reply.partition("You said: ")[2]:
            self.send_json(500, {"error": {"message": "injected fault (AGENT_FAULT_MATCH)",
                                           "type": "server_error"}})
            return
        model = request.get("model") or MODEL
        if request.get("stream"):
            self.send_stream(chunks(reply, model))
        else:
            self.send_json(200, completion(reply, model))

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-agent-version", VERSION)
        self.end_headers()
        self.wfile.write(data)

    def send_stream(self, events):
        """Server-sent events, one chunked-encoding chunk per event, so each arrives at once."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-agent-version", VERSION)
        self.end_headers()
        for event in events:
            self.write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")  # the last, empty chunk ends the response

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format, *args):
        pass  # one line per request would be the slowest part of this server


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default of 5 refuses connections under load

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


def main():
    port = int(os.environ.get("FC_SERVER_PORT") or os.environ.get("PORT") or 9000)
    # The cloud instance must listen on every interface of its sandbox; the local emulator
    # sets AGENTRUN_BIND_HOST=127.0.0.1 so that nobody on the network can reach a laptop's agent.
    server = Server((os.environ.get("AGENTRUN_BIND_HOST", "0.0.0.0"), port), Handler)
    print(f"example agent version {VERSION} listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
