"""Opens the Bokeh websocket of the Dask dashboard and prints its first message.

Run as its own process by test_edge.py: tornado's event loop stays out of pytest's.
Usage: websocket_probe.py URL CAFILE USER PASSWORD TOKEN
"""
import asyncio
import base64
import ssl
import sys

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


async def first_message(url: str, cafile: str, user: str, password: str, token: str) -> str:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = HTTPRequest(url, headers={"Authorization": f"Basic {credentials}"},
                          ssl_options=ssl.create_default_context(cafile=cafile))
    connection = await websocket_connect(request, subprotocols=["bokeh", token])
    return await asyncio.wait_for(connection.read_message(), 20)


if __name__ == "__main__":
    print(asyncio.run(first_message(*sys.argv[1:6])))
