"""A small fake TWS / IB Gateway that speaks the TWS API socket protocol, for ib_async.

Interactive Brokers cannot run here, so the IB adapter is tested against
this server. It speaks the real wire format (read from ib_async 2.1's
``client.py`` and ``decoder.py``): the ``API\\0`` greeting with a
length-prefixed ``v157..178`` version range, answered by the server version
and connection time; then length-prefixed messages of NUL-terminated fields.
It answers ``startApi`` with ``nextValidId`` and ``managedAccounts``, the
start-up requests of ``IB.connectAsync`` with their end messages, and
``placeOrder`` with ``openOrder`` + ``orderStatus``: a market order fills at
once at ``fill_price`` in ``fill_chunks`` executions (``execDetails`` +
``commissionReport`` + ``orderStatus`` each), a limit order rests until
``cancelOrder`` (``orderStatus`` Cancelled). It records every message it got.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

SERVER_VERSION = 178
ACCOUNT = "DU1234567"


def frame(*fields: object) -> bytes:
    """One TWS message: 4-byte big-endian length, then each field followed by NUL."""
    body = "".join(f"{'' if f is None else f}\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


@dataclass
class _Order:
    order_id: int
    client_id: int
    perm_id: int
    contract: list[str]
    action: str
    quantity: float
    order_type: str
    lmt_price: str
    account: str
    order_ref: str
    filled: float = 0.0


@dataclass
class FakeTWS:
    """``await start()``, then point ib_async at ``port``; ``received`` holds (msg id, fields)."""

    fill_price: float = 100.0
    fill_chunks: int = 1
    commission: float = 1.0
    refuse_first: int = 0
    """Connections to drop at once before answering (to test the client's retry)."""
    port: int = 0
    received: list[tuple[int, list[str]]] = field(default_factory=list)
    orders: dict[int, _Order] = field(default_factory=dict)
    greetings: list[str] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    _exec_seq: int = 0

    async def start(self) -> FakeTWS:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse_first > 0:
            self.refuse_first -= 1
            writer.close()
            return
        try:
            prefix = await reader.readexactly(4)
            if prefix != b"API\0":
                writer.close()
                return
            (n,) = struct.unpack(">I", await reader.readexactly(4))
            self.greetings.append((await reader.readexactly(n)).decode())
            writer.write(frame(SERVER_VERSION, "20260101 12:00:00 UTC"))
            while True:
                (n,) = struct.unpack(">I", await reader.readexactly(4))
                fields = (await reader.readexactly(n)).decode().split("\0")[:-1]
                msg_id = int(fields[0])
                self.received.append((msg_id, fields))
                writer.write(b"".join(self._answer(msg_id, fields)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _answer(self, msg_id: int, f: list[str]) -> list[bytes]:
        if msg_id == 71:  # startApi: version, clientId, optional capabilities
            self.client_id = int(f[2])
            return [frame(9, 1, 1), frame(15, 1, ACCOUNT)]  # nextValidId, managedAccounts
        if msg_id == 61:  # reqPositions
            return [frame(62, 1)]  # positionEnd
        if msg_id == 5:  # reqOpenOrders
            return [frame(53, 1)]  # openOrderEnd
        if msg_id == 99:  # reqCompletedOrders
            return [frame(102)]  # completedOrdersEnd
        if msg_id == 6:  # reqAccountUpdates: version, subscribe, account
            return [frame(54, 1, f[3])]  # accountDownloadEnd
        if msg_id == 76:  # reqAccountUpdatesMulti: version, reqId, ...
            return [frame(74, 1, f[2])]  # accountUpdateMultiEnd
        if msg_id == 7:  # reqExecutions: version, reqId, filter...
            return [frame(55, 1, f[2])]  # execDetailsEnd
        if msg_id == 3:
            return self._place(f)
        if msg_id == 4:  # cancelOrder: version, orderId, manual cancel time
            o = self.orders.get(int(f[2]))
            if o is None:
                return [frame(4, 2, int(f[2]), 10147, "OrderId not found", "")]
            return [self._status(o, "Cancelled")]
        return []

    def _place(self, f: list[str]) -> list[bytes]:
        # placeOrder: 3, orderId, contract (12 fields), secIdType, secId, action, quantity,
        # orderType, lmtPrice, auxPrice, tif, ocaGroup, account, openClose, origin, orderRef...
        contract = f[2:14]
        o = _Order(
            order_id=int(f[1]),
            client_id=self.client_id,
            perm_id=1_000_000 + int(f[1]),
            contract=contract,
            action=f[16],
            quantity=float(f[17]),
            order_type=f[18],
            lmt_price=f[19],
            account=f[23] or ACCOUNT,
            order_ref=f[26],
        )
        self.orders[o.order_id] = o
        out = [self._open_order(o, "Submitted"), self._status(o, "Submitted")]
        if o.order_type == "MKT":
            chunk = o.quantity / self.fill_chunks
            for i in range(self.fill_chunks):
                qty = o.quantity - o.filled if i == self.fill_chunks - 1 else chunk
                out += self._execute(o, qty)
        return out

    def _status(self, o: _Order, status: str) -> bytes:
        avg = self.fill_price if o.filled else 0.0
        # orderStatus: id, status, filled, remaining, avgFillPrice, permId, parentId,
        # lastFillPrice, clientId, whyHeld, mktCapPrice
        return frame(
            3, o.order_id, status, o.filled, o.quantity - o.filled, avg, o.perm_id, 0,
            avg, o.client_id, "", 0.0,
        )  # fmt: skip

    def _execute(self, o: _Order, qty: float) -> list[bytes]:
        self._exec_seq += 1
        o.filled += qty
        exec_id = f"0000e0d5.{self._exec_seq:08d}.01.01"
        c = o.contract  # conId symbol secType lastTrade strike right mult exchange primary ccy
        contract = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[9], c[10], c[11]]
        side = "BOT" if o.action == "BUY" else "SLD"
        details = frame(
            11, -1, o.order_id, *contract, exec_id, "20260101 12:00:01 UTC", o.account,
            "ISLAND", side, qty, self.fill_price, o.perm_id, o.client_id, 0, o.filled,
            self.fill_price, o.order_ref, "", "", "", 1, 0,
        )  # fmt: skip
        report = frame(59, 1, exec_id, self.commission, "USD", 0.0, "", "")
        status = "Filled" if o.filled >= o.quantity else "Submitted"
        return [details, report, self._status(o, status)]

    def _open_order(self, o: _Order, status: str) -> bytes:
        """``openOrder`` for server version 178, field by field as ib_async's decoder reads it."""
        c = o.contract
        head = [
            5, o.order_id, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[9], c[10], c[11],
            o.action, o.quantity, o.order_type, o.lmt_price, "", "DAY", "", o.account, "", 0,
            o.order_ref, o.client_id, o.perm_id, 0, 0, 0, "", "", "", "", "",
        ]  # fmt: skip
        body = [""] * 29  # modelCode .. deltaNeutralAuxPrice (no delta-neutral order type)
        body += [""] * 7  # continuousUpdate .. comboLegsDescrip
        body += [0, 0, 0]  # combo legs, order combo legs, smart routing params
        body += ["", "", ""]  # scale init level size, subs level size, price increment
        body += [""]  # hedge type
        body += [0, "", "", 0, 0]  # optOutSmartRouting, clearing account/intent, notHeld, dnc
        body += [""]  # algo strategy
        body += [0, 0, status] + [""] * 14 + [0, 0]  # solicited, whatIf, state, margins...
        body += [0]  # conditions
        body += [""] * 16  # adjusted order type .. usePriceMgmtAlgo
        body += ["", "", ""]  # duration, postToAts, autoCancelParent
        body += [""] * 5  # minTradeQty .. midOffsetAtHalf
        return frame(*head, *body)
