#!/usr/bin/env python3
"""An SMPP 3.4 SMSC for the ivrd tests, on the `smpp34` package's server (pip install smpp34).

    smsc_sim.py PORT LOG

Accepts any transceiver bind on 127.0.0.1:PORT. Every submit_sm is appended to LOG as a JSON
line and accepted with a hex message id; a delivery receipt (Appendix B text, quoting the id in
decimal, plus the receipted_message_id and message_state parameters) follows.
Commands on stdin, one per line:
    mo FROM TO TEXT    a mobile-originated message (UCS-2 when TEXT is not ASCII)
    reject STATUS      refuse the next submit_sm with this command_status
"""
import asyncio
import json
import sys

import smpp34


async def main(port, log_path):
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="SIMSC")
    await server.start()
    state = {"esme": None, "next_id": 0xA000, "reject": None}
    log = open(log_path, "a", buffering=1)

    def record(**kw):
        log.write(json.dumps(kw) + "\n")

    async def commands():
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            parts = line.rstrip("\n").split(" ", 3)
            if parts[0] == "mo" and state["esme"] is not None:
                text = parts[3]
                if text.isascii():
                    coding, octets = 0, text.encode("ascii")
                else:
                    coding, octets = 8, text.encode("utf-16-be")
                resp = await state["esme"].deliver_sm(
                    parts[2], octets, source_addr=parts[1].lstrip("+"),
                    source_addr_ton=1, source_addr_npi=1, data_coding=coding)
                record(event="mo_acked", status=resp.command_status)
            elif parts[0] == "reject":
                state["reject"] = int(parts[1], 0)

    async def receipt(esme, sub, hex_id):
        await asyncio.sleep(0.05)
        text = ("id:%d sub:001 dlvrd:001 submit date:2611221200 done date:2611221200 "
                "stat:DELIVRD err:000 text:" % int(hex_id, 16)).encode()
        resp = await esme.deliver_sm(
            sub.source_addr, text, source_addr=sub.destination_addr, esm_class=0x04,
            tlvs=[smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, hex_id.encode() + b"\0"),
                  smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([2]))])
        record(event="receipt_acked", id=hex_id, status=resp.command_status)

    asyncio.ensure_future(commands())
    print("ready", flush=True)
    while True:
        ev = await server.next()
        if isinstance(ev, smpp34.Esme):
            state["esme"] = ev
            record(event="bound", system_id=ev.system_id)
        elif isinstance(ev, smpp34.SubmitSmEvent):
            if state["reject"] is not None:
                ev.reject(state["reject"])
                record(event="rejected", to=ev.destination_addr, status=state["reject"])
                state["reject"] = None
                continue
            state["next_id"] += 1
            hex_id = "%X" % state["next_id"]
            ev.accept(message_id=hex_id)
            record(event="submit", id=hex_id, source=ev.source_addr,
                   source_ton=ev.source_addr_ton, to=ev.destination_addr,
                   dest_ton=ev.dest_addr_ton, esm_class=ev.esm_class,
                   data_coding=ev.data_coding, registered_delivery=ev.registered_delivery,
                   short_message=ev.short_message.hex())
            if ev.registered_delivery & 1 and state["esme"] is not None:
                asyncio.ensure_future(receipt(state["esme"], ev, hex_id))
        elif isinstance(ev, smpp34.Unbound):
            record(event="unbound")
            state["esme"] = None


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
