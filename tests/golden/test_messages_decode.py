"""Response frames encoded by OUR message encoder, decoded by the DataStax Python driver.

$ZDM_GOLDEN_BIN_DIR/golden_emit_messages prints JSON records (see emit_messages.cpp): a whole
response frame per record plus the fields it is meant to carry. Each frame is decoded with the
driver's ProtocolHandler.decode_message and its fields compared. Run by CTest with /usr/bin/python3.
"""

import json
import os
import socket
import struct
import subprocess
import uuid

import pytest

from cassandra import WriteType
from cassandra.cqltypes import BytesType
from cassandra.protocol import (AuthChallengeMessage, AuthSuccessMessage, AuthenticateMessage,
                                ColumnMetadata, ErrorMessage, EventMessage, ProtocolHandler,
                                ReadyMessage, ResultMessage, SupportedMessage)

VERSIONS = (3, 4, 5, 0x41, 0x42)


@pytest.fixture(scope="module")
def records():
    bin_dir = os.environ.get("ZDM_GOLDEN_BIN_DIR")
    assert bin_dir, "ZDM_GOLDEN_BIN_DIR is not set; run through ctest"
    emitter = os.path.join(bin_dir, "golden_emit_messages")
    assert os.path.exists(emitter), "emitter %s was not built" % emitter
    out = subprocess.run([emitter], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    assert len(data) > 200
    return data


def ip_text(hex_address):
    raw = bytes.fromhex(hex_address)
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def decode(record, result_metadata=None):
    frame = bytes.fromhex(record["frame"])
    version = frame[0] & 0x7F
    assert frame[0] & 0x80, "not a response frame"
    flags = frame[1]
    stream, opcode, length = struct.unpack(">hBI", frame[2:9])
    assert length == len(frame) - 9
    assert (version, stream, opcode, flags) == (
        record["version"], record["stream"], record["opcode"], record["flags"])
    return ProtocolHandler.decode_message(version, {}, stream, flags, opcode, frame[9:], None,
                                          result_metadata)


def check_envelope(msg, envelope):
    expected_trace = envelope["tracing_id"]
    assert msg.trace_id == (uuid.UUID(hex=expected_trace) if expected_trace else None)
    assert msg.warnings == envelope["warnings"]
    payload = envelope["custom_payload"]
    expected_payload = None if payload is None else {
        k: (None if v is None else bytes.fromhex(v)) for k, v in payload.items()}
    assert msg.custom_payload == expected_payload


def check_error(msg, version, expected):
    assert isinstance(msg, ErrorMessage)
    assert msg.code == expected["code"]
    assert msg.message == expected["message"]
    detail = expected["detail"]
    code = expected["code"]
    info = msg.info
    if code == 0x1000:
        assert info == {"consistency": detail["consistency"],
                        "required_replicas": detail["required"],
                        "alive_replicas": detail["alive"]}
        return
    if code == 0x2400:
        assert info == {"keyspace": detail["keyspace"], "table": detail["table"]}
        return
    if code == 0x2500:
        assert info == bytes.fromhex(detail["id"])
        return
    if code == 0x1400:
        assert info == {"keyspace": detail["keyspace"], "function": detail["function"],
                        "arg_types": detail["arg_types"]}
        return
    if code in (0x1100, 0x1200, 0x1300, 0x1500):
        assert info["consistency"] == detail["consistency"]
        assert info["received_responses"] == detail["received"]
        assert info["required_responses"] == detail["block_for"]
        if code in (0x1100, 0x1500):
            assert info["write_type"] == WriteType.name_to_value[detail["write_type"]]
        if code in (0x1200, 0x1300):
            assert info["data_retrieved"] == detail["data_present"]
        if code in (0x1300, 0x1500):
            assert info["failures"] == detail["num_failures"]
            if version >= 5:
                assert info["error_code_map"] == {
                    ip_text(r["endpoint"]): r["code"] for r in detail["reasons"]}
            else:
                assert info["error_code_map"] is None
        return
    # Codes without an extra body the driver knows of (and CAS_WRITE_UNKNOWN, which it reads as a
    # plain error and ignores the rest of).
    assert info is None


def check_columns(actual, expected):
    assert [c[0] for c in actual] == [c["keyspace"] for c in expected]
    assert [c[1] for c in actual] == [c["table"] for c in expected]
    assert [c[2] for c in actual] == [c["name"] for c in expected]
    assert [c[3].cql_parameterized_type() for c in actual] == [c["type"] for c in expected]


def check_rows(msg, version, body):
    assert msg.paging_state == (bytes.fromhex(body["paging_state"])
                                if body["paging_state"] else None)
    expected_rows = [[None if c is None else bytes.fromhex(c) for c in row] for row in body["rows"]]
    if body["no_metadata"]:
        assert msg.column_metadata is None
        assert msg.parsed_rows == [tuple(r) for r in expected_rows]
        return
    check_columns(msg.column_metadata, body["columns"])
    types = msg.column_types
    assert len(msg.parsed_rows) == len(expected_rows)
    for parsed, raw in zip(msg.parsed_rows, expected_rows):
        # Re-serialise each parsed value with the driver's own codec: the driver read the cell
        # exactly when that gives back our bytes.
        again = [None if v is None else t.to_binary(v, version) for t, v in zip(types, parsed)]
        assert again == raw
    if body["new_metadata_id"]:
        assert msg.result_metadata_id == bytes.fromhex(body["new_metadata_id"])
    if body["continuous_page_number"] is not None:
        assert msg.continuous_paging_seq == body["continuous_page_number"]
        assert bool(msg.continuous_paging_last) == body["last_continuous_page"]


def check_schema_change(event, change):
    assert event["change_type"] == change["change_type"]
    assert event["target_type"] == change["target"]
    assert event["keyspace"] == change["keyspace"]
    target = change["target"]
    if target in ("FUNCTION", "AGGREGATE"):
        descriptor = event[target.lower()]
        assert descriptor.name == change["name"]
        assert list(descriptor.argument_types) == change["argument_types"]
    elif target != "KEYSPACE":
        assert event[target.lower()] == change["name"]


def check_result(msg, version, expected):
    assert isinstance(msg, ResultMessage)
    assert msg.kind == expected["result_kind"]
    body = expected["body"]
    kind = expected["result_kind"]
    if kind == 2:
        check_rows(msg, version, body)
    elif kind == 3:
        assert msg.new_keyspace == body["keyspace"]
    elif kind == 4:
        assert msg.query_id == bytes.fromhex(body["id"])
        if version in (5, 0x42):
            assert msg.result_metadata_id == bytes.fromhex(body["result_metadata_id"])
        else:
            assert msg.result_metadata_id is None
        check_columns(msg.bind_metadata, body["bind_columns"])
        assert msg.pk_indexes == (body["pk_indexes"] if version >= 4 else None)
        result = body["result"]
        if result["no_metadata"]:
            assert msg.column_metadata is None
        else:
            check_columns(msg.column_metadata, result["columns"])
    elif kind == 5:
        check_schema_change(msg.schema_change_event, body["change"])


def check_event(msg, expected):
    assert isinstance(msg, EventMessage)
    assert msg.event_type == expected["event_type"]
    if expected["event_type"] == "SCHEMA_CHANGE":
        check_schema_change(msg.event_args, expected["change"])
    else:
        assert msg.event_args == {"change_type": expected["change"],
                                  "address": (ip_text(expected["address"]), expected["port"])}


def check_record(record):
    kind = record["kind"]
    expected = record["expected"]
    version = record["version"]
    result_metadata = None
    if kind == "result" and expected["result_kind"] == 2 and expected["body"]["no_metadata"]:
        # A No_metadata page is read with the metadata the client kept from PREPARE.
        result_metadata = [ColumnMetadata("ks", "tbl", "c%d" % i, BytesType)
                           for i in range(expected["body"]["column_count"])]
    msg = decode(record, result_metadata)
    check_envelope(msg, record["envelope"])
    if kind == "error":
        check_error(msg, version, expected)
    elif kind == "ready":
        assert isinstance(msg, ReadyMessage)
    elif kind == "authenticate":
        assert isinstance(msg, AuthenticateMessage)
        assert msg.authenticator == expected["authenticator"]
    elif kind == "supported":
        assert isinstance(msg, SupportedMessage)
        options = dict(expected["options"])
        assert msg.cql_versions == options.pop("CQL_VERSION")
        assert msg.options == options
    elif kind == "result":
        check_result(msg, version, expected)
    elif kind == "event":
        check_event(msg, expected)
    elif kind == "auth_challenge":
        assert isinstance(msg, AuthChallengeMessage)
        assert msg.challenge == bytes.fromhex(expected["token"] or "")
    elif kind == "auth_success":
        assert isinstance(msg, AuthSuccessMessage)
        # The driver reads the token as text and a null token as empty.
        assert msg.token == bytes.fromhex(expected["token"] or "").decode()
    else:
        pytest.fail("unknown kind %s" % kind)


def test_driver_decodes_every_response_frame_we_encode(records):
    failures = []
    for record in records:
        try:
            check_record(record)
        except Exception as e:  # collect all mismatches, then fail once with every one listed
            failures.append("%s v0x%02x: %s: %s" % (record["name"], record["version"],
                                                   type(e).__name__, e))
    assert not failures, "\n".join(failures)


def test_frames_cover_every_response_kind_in_every_version(records):
    for version in VERSIONS:
        mine = [r for r in records if r["version"] == version]
        codes = {r["expected"]["code"] for r in mine if r["kind"] == "error"}
        assert len(codes) == (21 if version >= 0x41 else 20)
        kinds = {r["expected"]["result_kind"] for r in mine if r["kind"] == "result"}
        assert kinds == {1, 2, 3, 4, 5}
        events = {r["expected"]["event_type"] for r in mine if r["kind"] == "event"}
        assert events == {"TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"}
        others = {r["kind"] for r in mine}
        assert others == {"error", "ready", "authenticate", "supported", "result", "event",
                          "auth_challenge", "auth_success"}
        if version >= 4:
            assert any(r["envelope"]["warnings"] and r["envelope"]["custom_payload"]
                       and r["envelope"]["tracing_id"] for r in mine)
