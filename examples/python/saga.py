#!/usr/bin/python3
"""The seed order saga's activities (examples/order/setup.sql) as a pgworkflow worker.

usage: saga.py [CONNINFO] [--queue Q ...] [--concurrency N]

Serves the saga's four queues (or those given) until SIGTERM or SIGINT.
``make demo WORKERS=python`` runs it instead of workflow-worker.
"""
import argparse
import asyncio
import logging
import sys

from pgworkflow import Worker

QUEUES = ["inventory", "payments", "shipping", "notifications"]


def order_worker(conninfo="", queues=QUEUES, concurrency=4, **kw):
    """A Worker with the saga's six activities registered."""
    worker = Worker(conninfo, queues, concurrency, **kw)

    @worker.activity("ReserveInventory")
    async def reserve(order):
        await asyncio.sleep(0.2)
        return {"reservation": f"R-{order['order_id']}"}

    @worker.activity("ChargePayment")
    async def charge(order, ctx):
        # ctx.activity_id is the same for every attempt: the payment
        # provider's idempotency key, so a retried charge is not charged twice.
        await asyncio.sleep(0.2)
        return {"charge": f"CH-{order['order_id']}", "amount": 42.50}

    @worker.activity("CreateShipment")
    async def ship(order, ctx):
        await asyncio.sleep(0.2)
        if order.get("carrier_down"):
            raise ConnectionError(f"carrier API unavailable (attempt {ctx.attempt})")  # retried
        return {"tracking": f"TRK-{order['order_id']}"}

    @worker.activity("SendConfirmation")
    def confirm(order):                      # a plain function runs in a thread
        return {"emailed": True}

    @worker.activity("RefundPayment")
    async def refund(order):
        return {"refunded": order["charge"]}

    @worker.activity("ReleaseInventory")
    async def release(order):
        return {"released": order["reservation"]}

    return worker


def main(argv=None):
    p = argparse.ArgumentParser(description="The order saga's activities.")
    p.add_argument("conninfo", nargs="?", default="", help="libpq conninfo (default: PG* env)")
    p.add_argument("--queue", action="append", help="a queue to serve (default: all four)")
    p.add_argument("--concurrency", type=int, default=4)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    order_worker(a.conninfo, a.queue or QUEUES, a.concurrency).run_sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
