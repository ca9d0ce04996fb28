"""Sparkplug B 3.0 edge node: the ``sparkplug`` uplink namespace (scheme in ../TOPICS.md).

Payloads are protobuf, built with the generated ``sparkplug_b_pb2`` from ``sparkplug_b.proto``
(EPL-2.0, see NOTICE.md). The outbox, lanes and drain are the JSON namespace's; only the session
(births, deaths, seq, aliases, STATE gating, NCMD/DCMD) and the encoding differ.
"""
