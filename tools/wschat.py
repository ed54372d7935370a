"""A terminal chat client for Chatter's WebSocket: prints every frame, sends what you type.

    python tools/wschat.py --token ACCESS_TOKEN [--to USER_ID] [--last-seq N] [--url http://127.0.0.1:8080]

A line of text is sent to --to as a `message.send` frame (a `typing` frame goes first once the
two have a conversation); `/to ID` changes the peer, `/quit` or end of input leaves. Messages from the peer are marked read over REST,
so the peer sees `message.read`. The last seq seen is printed on exit, for --last-seq.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid

import aiohttp


async def read_lines(queue: asyncio.Queue) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        await queue.put(line if line else None)
        if not line:
            return


async def main(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {args.token}"}
    url = f"{args.url.rstrip('/')}/api/v1/ws" + (f"?last_seq={args.last_seq}" if args.last_seq is not None else "")
    peer, last_seq = args.to, args.last_seq
    talking_with: set[int] = set()  # typing is only accepted once a conversation exists
    async with aiohttp.ClientSession(headers=headers) as http, http.ws_connect(url, heartbeat=20) as ws:
        lines: asyncio.Queue = asyncio.Queue()
        reader = asyncio.create_task(read_lines(lines))
        incoming = asyncio.create_task(ws.receive())
        typed = asyncio.create_task(lines.get())
        try:
            while True:
                done, _ = await asyncio.wait({incoming, typed}, return_when=asyncio.FIRST_COMPLETED)
                if incoming in done:
                    msg = incoming.result()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        print(f"* socket closed: {ws.close_code}", flush=True)
                        return 0
                    frame = json.loads(msg.data)
                    last_seq = frame.get("seq", last_seq)
                    print(json.dumps(frame, ensure_ascii=False), flush=True)
                    data = frame.get("data") or {}
                    if frame["type"] == "message.created":
                        talking_with.update((data.get("sender_id"), data.get("recipient_id")))
                        if data.get("sender_id") == peer:
                            await http.post(f"{args.url}/api/v1/conversations/{peer}/read", json={})
                    incoming = asyncio.create_task(ws.receive())
                if typed in done:
                    line = typed.result()
                    if line is None or line.strip() == "/quit":
                        return 0
                    line = line.rstrip("\n")
                    if line.startswith("/to "):
                        peer = int(line.split()[1])
                    elif line and peer is None:
                        print("* no peer: type /to USER_ID first", flush=True)
                    elif line:
                        if peer in talking_with:
                            await ws.send_json({"type": "typing", "data": {"to": peer}})
                        await ws.send_json({"type": "message.send", "data": {
                            "to": peer, "content": line, "client_id": uuid.uuid4().hex}})
                    typed = asyncio.create_task(lines.get())
        finally:
            reader.cancel()
            print(f"* last seq: {last_seq}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token", required=True)
    parser.add_argument("--to", type=int, default=None)
    parser.add_argument("--last-seq", type=int, default=None)
    sys.exit(asyncio.run(main(parser.parse_args())))
