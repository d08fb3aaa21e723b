"""Regenerate the example certificates of scenarios/tls (keys are new on every run).

    .venv/bin/python scenarios/tls/generate.py

Writes, next to this file: ``ca.pem`` (the test CA, the "trusted root" of the examples),
``mx.example.com.pem`` (leaf for mx.example.com signed by the CA, then the CA: a full
chain), ``wrongname.pem`` (CA-signed leaf for other.example.net, then the CA),
``selfsigned.pem`` (self-signed mx.example.com, the usual DANE-EE deployment),
``expired.pem`` (CA-signed mx.example.com that expired in 2021, then the CA) and
``mx.example.com.tlsa`` (its ``3 1 1`` and ``2 1 1`` records).  After regenerating,
re-run the examples in docs/tls.md: the TLSA digests change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sim.policy.certs import make_ca, make_leaf, make_self_signed, tlsa_for

HERE = Path(__file__).resolve().parent
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2125, 1, 1, tzinfo=UTC)


def main() -> None:
    ca = make_ca("relaysim example CA", not_before=START, not_after=END)
    leaf = make_leaf(ca, ["mx.example.com"], not_before=START, not_after=END)
    wrong = make_leaf(ca, ["other.example.net"], not_before=START, not_after=END, serial=3)
    selfsigned = make_self_signed(["mx.example.com"], not_before=START, not_after=END)
    expired = make_leaf(
        ca,
        ["mx.example.com"],
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 1, 1, tzinfo=UTC),
        serial=4,
    )
    (HERE / "ca.pem").write_bytes(ca.pem())
    (HERE / "mx.example.com.pem").write_bytes(leaf.pem() + ca.pem())
    (HERE / "wrongname.pem").write_bytes(wrong.pem() + ca.pem())
    (HERE / "selfsigned.pem").write_bytes(selfsigned.pem())
    (HERE / "expired.pem").write_bytes(expired.pem() + ca.pem())
    (HERE / "mx.example.com.tlsa").write_text(
        f"_25._tcp.mx.example.com. IN TLSA {tlsa_for(leaf.certificate, 3, 1, 1)}\n"
        f"_25._tcp.mx.example.com. IN TLSA {tlsa_for(ca.certificate, 2, 1, 1)}\n"
    )


if __name__ == "__main__":
    main()
