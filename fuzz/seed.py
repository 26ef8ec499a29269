#!/usr/bin/env python3
"""Builds the fuzz corpora under fuzz/corpus/<target>/ from material outside the fuzzers:
the SIP messages of the sip-ua tests (RFC 4475's torture messages among them, written out by
the tests when IVRD_FUZZ_SEEDS is set: seed.sh runs them first), the SIPp scenarios of
tests/sipp/, SIPp's own RTP captures (/usr/share/sip-tester/*.pcap), the flow and queue files
of config/, and the SMS providers' callback forms. Each seed is written in the framing its
target reads (see the doc comment of each fuzz_targets/*.rs). Standard library only."""

import hashlib
import os
import re
import struct
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def sipp_messages():
    """The <send> messages of the SIPp scenarios, their [keywords] filled in."""
    fill = {
        "service": "999", "remote_ip": "192.0.2.10", "remote_port": "5060",
        "local_ip": "192.0.2.1", "local_port": "5070", "transport": "UDP",
        "call_number": "1", "cseq": "1", "pid": "42", "media_ip": "192.0.2.1",
        "media_port": "6000", "media_ip_type": "4", "local_ip_type": "4",
        "len": "0", "branch": "z9hG4bK-1-0", "call_id": "1-42@192.0.2.1",
    }
    for xml in sorted((ROOT / "tests" / "sipp").glob("*.xml")):
        text = xml.read_text(errors="replace")
        for block in re.findall(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", text, re.S):
            lines = [l.strip() for l in block.strip().splitlines()]
            msg = "\r\n".join(lines)
            msg = re.sub(r"\[last_[A-Za-z-]+:?\]", "", msg)
            msg = re.sub(r"\[\$?([a-z_]+)[^\]]*\]", lambda m: fill.get(m.group(1), "x"), msg)
            head, _, body = msg.partition("\r\n\r\n")
            body = body + "\r\n" if body else ""
            head = re.sub(r"(?im)^(content-length|l)\s*:.*$", f"Content-Length: {len(body)}", head)
            yield (head + "\r\n\r\n" + body).encode()


def pcap_udp(path):
    """UDP payloads of an Ethernet pcap (SIPp's RTP captures)."""
    data = path.read_bytes()
    if len(data) < 24:
        return
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    at = 24
    while at + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 17:
            continue
        yield frame[14 + ihl + 8:]


def datagrams(mode, packets, how=0x80):
    out = bytes([mode])
    for p in packets:
        out += bytes([how]) + struct.pack(">H", len(p)) + p
    return out


def rtcp_seeds():
    """An SR with one report block and an SDES CNAME, an RR, a BYE (RFC 3550 §6)."""
    sdes = b"\x81\xca\x00\x03" + struct.pack(">I", 0x1234) + b"\x01\x04peer\x00\x00"
    block = struct.pack(">IIIIII", 7, 0x0A000005, 0x00010064, 40, 0xB7052000, 0x00054000)
    sr = b"\x81\xc8\x00\x0c" + struct.pack(">IQIII", 0x1234, 0xE00000001234ABCD, 160000, 1000, 160000) + block
    rr = b"\x81\xc9\x00\x07" + struct.pack(">I", 0x1234) + block
    bye = b"\x81\xcb\x00\x01" + struct.pack(">I", 0x1234)
    return [sr + sdes, rr + sdes, rr + bye]


def smpp_pdu(command_id, seq, body=b"", status=0):
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def smpp_seeds():
    cstr = lambda s: s.encode() + b"\x00"
    def sm(esm, text, udh=b""):
        payload = udh + text
        return (cstr("") + b"\x01\x01" + cstr("4915112345678") + b"\x01\x01" + cstr("4930123")
                + bytes([esm, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, 0, 0, len(payload)]) + payload)
    receipt = b"id:42 sub:001 dlvrd:001 submit date:2612011200 done date:2612011201 stat:DELIVRD err:000 text:Your coupon"
    bind_resp = smpp_pdu(0x80000009, 1, cstr("SMSC"))
    yield bind_resp
    yield smpp_pdu(0x00000005, 7, sm(0x04, receipt))
    yield smpp_pdu(0x00000005, 8, sm(0x00, b"STOP"))
    yield smpp_pdu(0x00000005, 9, sm(0x40, b"part one", b"\x05\x00\x03\x2a\x02\x01"))
    yield smpp_pdu(0x80000004, 2, cstr("msg-42"))
    yield smpp_pdu(0x80000004, 3, b"", status=0x58)
    yield smpp_pdu(0x00000015, 10) + smpp_pdu(0x80000015, 4)
    yield smpp_pdu(0x80000000, 5, status=3)
    yield smpp_pdu(0x00000006, 11)


def main():
    seeds = Path(os.environ.get("IVRD_FUZZ_SEEDS", CORPUS / "from-tests")) / "sip"
    sip = [p.read_bytes() for p in sorted(seeds.glob("*"))] if seeds.is_dir() else []
    sip += list(sipp_messages())
    for i, m in enumerate(sip):
        put("sip_message", bytes([0]) + m)
        put("sip_message", bytes([1]) + m)
        if i + 1 < len(sip):
            put("sip_message", bytes([4]) + m + b"\x00\x00\x00\x00" + sip[i + 1])
            put("sip_stream", bytes([1 + i % 97]) + m + sip[i + 1])
        head, sep, body = m.partition(b"\r\n\r\n")
        if body.startswith(b"v=0"):
            put("sdp", body)
    pcaps = sorted(Path("/usr/share/sip-tester").glob("*.pcap"))
    for pcap in pcaps:
        packets = list(pcap_udp(pcap))
        for mode in (0, 9):
            put("rtp", datagrams(mode, packets[:60]))
    rtcp = rtcp_seeds()
    put("rtp", datagrams(0, rtcp, how=0x84))
    put("rtp", datagrams(0, rtcp, how=0x80))
    for pdu in smpp_seeds():
        put("smpp", pdu)
    flows = sorted((ROOT / "config" / "flows").rglob("*.toml"))
    texts = [f.read_bytes() for f in flows]
    queues = [(ROOT / "config" / "queues.toml").read_bytes(), (ROOT / "config" / "invalid" / "queues.toml").read_bytes()]
    for i, t in enumerate(texts):
        put("flow_toml", t)
        put("flow_toml", t + b"\x00" + texts[(i + 1) % len(texts)] + b"\x00" + queues[i % 2])
    for form in [
        "id=42&type=1&at=1700000000&reply=ACK", "id=42&type=16", "id=42&type=8",
        "id=42&status=delivered", "id=42&MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003",
        "id=9223372036854775807&MessageStatus=sent", "from=%2B4915112345678&to=12345&text=STOP",
        "From=%2B4915112345678&To=%2B4930123&Body=hello&NumMedia=1&MediaUrl0=https%3A%2F%2Fx%2Fa.jpg&MediaContentType0=image%2Fjpeg",
        '{"status":"queued","sid":"SM1"}', "ERROR: 3: Unknown user",
    ]:
        put("sms_callbacks", form.encode())
    counts = {d.name: len(list(d.iterdir())) for d in sorted(CORPUS.iterdir()) if d.is_dir() and d.name != "from-tests"}
    print("seeds:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    if len(sip) < 100 or not pcaps:
        sys.exit(f"too few seeds: {len(sip)} SIP messages, {len(pcaps)} pcaps")


if __name__ == "__main__":
    main()
