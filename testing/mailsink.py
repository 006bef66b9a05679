#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd), keeping every message it
accepts as a file, so tests can read exactly what arrived.

    mailsink.py --port 2525 --dir /tmp/mail [--fail-first N] [--stall-first N]

Each accepted message is written to DIR as NNNNNN.eml (the raw message,
written to a temporary name and then renamed, so a reader never sees half
of one) with NNNNNN.json beside it holding the SMTP envelope (MAIL FROM,
RCPT TO). --fail-first answers the first N messages with a temporary
failure (451); --stall-first holds the first N messages' DATA for ever, as
a server that hangs does. Prints "ready" once it accepts connections.
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, fail_first, stall_first):
        self.folder = folder
        self.fail_left = fail_first
        self.stall_left = stall_first
        self.lock = threading.Lock()
        existing = [int(n[:6]) for n in os.listdir(folder) if n.endswith(".eml")]
        self.counter = itertools.count(max(existing, default=0) + 1)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            stall = self.stall_left > 0
            self.stall_left -= int(stall)
            fail = not stall and self.fail_left > 0
            self.fail_left -= int(fail)
        if stall:
            await asyncio.sleep(3600)
        if fail:
            return "451 4.3.0 Try again later (test server)"
        with self.lock:
            number = next(self.counter)
        base = os.path.join(self.folder, f"{number:06d}")
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        os.rename(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--stall-first", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Sink(args.dir, args.fail_first, args.stall_first),
        hostname="127.0.0.1",
        port=args.port,
        data_size_limit=1_000_000,
    )
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
