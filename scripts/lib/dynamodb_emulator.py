"""moto's server, for the DynamoDB store's tests, applying one request at a time.

moto answers each request on a thread of its own and locks nothing between reading an item
and writing it back, so two UpdateItems racing on one item can lose one of them (50 parallel
adds to one session kept 48). Real DynamoDB applies writes to an item one after the other,
and the store's conformance tests check exactly that. Behind one lock, moto does too.

Usage: python dynamodb_emulator.py HOST PORT  (scripts/services.sh starts it)
"""

import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
