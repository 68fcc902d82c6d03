"""Channel values are stored zstd-compressed, with a dictionary of the serializer's
framing. Pure code, no I/O.

Most blob rows are small (a delta holds the one or two messages a step appended), far
below the 2 KB from which PostgreSQL compresses a row, and half of a message's bytes
are its framing (`langchain_core.messages.ai`, `additional_kwargs`, ...): zstd with
those strings as a dictionary stores a typical message in about half its size, and a
whole conversation in less than PostgreSQL's pglz does. A compressed blob's type is
the serializer's type behind `TAG` (`z1:msgpack`); a blob that does not shrink by an
eighth (encrypted, already compressed) is stored as it is.

>>> stored = pack("msgpack", blob)                    # doctest: +SKIP
>>> unpack(*stored) == ("msgpack", blob)              # doctest: +SKIP
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import zstandard

TAG = "z1:"  # the dictionary's version: "z1" always means exactly _DICTIONARY below
_MIN_SIZE = 64  # smaller blobs gain nothing worth a frame's header
_LEVEL = 3

# Never edit: stored blobs were compressed with these bytes (tests pin their digest). A
# new dictionary gets a new TAG, and `unpack` keeps reading this one. Raw content: the
# msgpack framing of LangChain's messages as LangGraph's serializer writes them.
_DICTIONARY = b"".join(
    (
        b"\xb3model_validate_json\xa7content\xb1additional_kwargs\x80\xb1response_metadata\x80",
        b"\xa4type\xa4name\xc0\xa2id\xd9$\xaatool_calls\x90\xb2invalid_tool_calls\x90",
        b"\xaeusage_metadata\xc0\xacinput_tokens\xadoutput_tokens\xactotal_tokens",
        b"\xadfinish_reason\xa4stop\xaamodel_name\xa8\xa4args\x81\xa4\xa9tool_call",
        b"\xactool_call_id\xa8artifact\xc0\xa6status\xa7success\xa4role\xa8messages\x91",
        b"\x94\xbclangchain_core.messages.tool\xabToolMessage\x87",
        b"\x94\xbelangchain_core.messages.system\xadSystemMessage\x86\xa4type\xa6system",
        b"\x94\xbalangchain_core.messages.ai\xa9AIMessage\x89\xa4type\xa2ai",
        b"\x94\xbdlangchain_core.messages.human\xacHumanMessage\x86\xa4type\xa5human",
        b"\xa7content\xa0\xb1additional_kwargs\x80\xb1response_metadata\x80\xa4type\xa5human",
        b"\xa4name\xc0\xa2id\xd9$\xb3model_validate_json\x81\xa8messages\x91\xc7\xaa\x05",
    )
)


_DICT = zstandard.ZstdCompressionDict(_DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
_DICT.precompute_compress(level=_LEVEL)


# Never edit either (a new one gets a new format byte, `CHECKPOINT_ZSTD`): the JSON
# framing of a LangGraph checkpoint as `pack_checkpoint` writes it, its most common
# strings last (zstd finds the nearest matches cheapest).
_CHECKPOINT_DICTIONARY = b"".join(
    (
        b'{"v":4,"ts":"2026-01-01T00:00:00.000000+00:00","pending_sends":[],',
        b'"channel_versions":{"__start__":"10000","branch:to:',
        b'"},"versions_seen":{"__input__":{},"__start__":{"__start__":"10000',
        b'","messages":"10000","branch:to:',
        b'"}},"updated_channels":["messages"]}',
        b'"},"updated_channels":["branch:to:',
    )
)
_CHECKPOINT_DICT = zstandard.ZstdCompressionDict(
    _CHECKPOINT_DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT
)
_CHECKPOINT_LEVEL = 6  # a few bytes less a row than level 3, in 4 us instead of 2
_CHECKPOINT_DICT.precompute_compress(level=_CHECKPOINT_LEVEL)
# No magic number: the row's first byte says what follows (`pack_checkpoint`).
_MAGICLESS = zstandard.ZstdCompressionParameters.from_level(
    _CHECKPOINT_LEVEL,
    format=zstandard.FORMAT_ZSTD1_MAGICLESS,
    write_checksum=0,
    write_content_size=1,
    write_dict_id=0,
)


class _Codecs:
    """zstd compressors and decompressors with the dictionaries: not thread-safe, so
    each is used by one thread at a time (`_take`, `_give`)."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(
            level=_LEVEL,
            dict_data=_DICT,
            write_checksum=False,
            write_content_size=True,
            write_dict_id=False,
        )
        self.decompressor = zstandard.ZstdDecompressor(dict_data=_DICT)
        self.checkpoints = zstandard.ZstdCompressor(
            dict_data=_CHECKPOINT_DICT, compression_params=_MAGICLESS
        )
        self.checkpoints_out = zstandard.ZstdDecompressor(
            dict_data=_CHECKPOINT_DICT, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )


# Idle codecs, shared by every thread: LangGraph runs a saver's calls on threads it
# starts for each run, and a pair of contexts per thread cost more than what they
# compress. list.pop and list.append are atomic: a codec is in use by one thread only.
_idle: list[_Codecs] = []
_MAX_IDLE = 64


def _take() -> _Codecs:
    try:
        return _idle.pop()
    except IndexError:
        return _Codecs()


def _give(codecs: _Codecs) -> None:
    if len(_idle) < _MAX_IDLE:
        _idle.append(codecs)


def pack(type_: str, blob: bytes | None) -> tuple[str, bytes | None]:
    """What to store for a serialized value: compressed when that saves an eighth."""
    if blob is None or len(blob) < _MIN_SIZE or type_.startswith(TAG):
        return type_, blob
    codecs = _take()
    try:
        packed = codecs.compressor.compress(blob)
    finally:
        _give(codecs)
    if len(packed) > len(blob) - len(blob) // 8:
        return type_, blob
    return TAG + type_, packed


def unpack(type_: str, blob: bytes | None) -> tuple[str, bytes | None]:
    """The serializer's (type, bytes) of a stored blob."""
    if not type_.startswith(TAG) or blob is None:
        return type_, blob
    codecs = _take()
    try:
        return type_[len(TAG) :], codecs.decompressor.decompress(blob)
    finally:
        _give(codecs)


def raw_size(type_: str, blob: bytes | None) -> int:
    """Size of a stored blob once unpacked (read from the zstd frame's header)."""
    if blob is None:
        return 0
    if type_.startswith(TAG):
        return int(zstandard.frame_content_size(blob))
    return len(blob)


def unpacking(loads: Callable[[tuple[str, bytes]], Any]) -> Callable[[tuple[str, bytes]], Any]:
    """`loads` for stored blobs: unpacks compressed ones first."""

    def read(data: tuple[str, bytes]) -> Any:
        if data[0].startswith(TAG):
            data = unpack(*data)  # type: ignore[assignment]  # unpack gives a tagged blob's bytes back
        return loads(data)

    return read


PACKED_WRITES = "w1:writes"  # a row of several pending writes (`_sql.WRITES_PACKED`)
_INT = struct.Struct(">i")


def pack_writes(writes: Iterable[tuple[int, str, str, bytes | None]]) -> bytes:
    """One blob of several writes (idx, channel, type, blob): their count, then each its
    int4 index and its channel, type and blob each behind an int4 length (-1: NULL)."""
    parts: list[bytes] = []
    count = 0
    for idx, channel, type_, value in writes:
        count += 1
        parts.append(_INT.pack(idx))
        for field in (channel.encode(), type_.encode(), value):
            if field is None:
                parts.append(_INT.pack(-1))
            else:
                parts.append(_INT.pack(len(field)))
                parts.append(field)
    return _INT.pack(count) + b"".join(parts)


def unpack_writes(blob: bytes) -> list[tuple[int, str, str, bytes | None]]:
    """The writes `pack_writes` packed, in order."""
    out: list[tuple[int, str, str, bytes | None]] = []
    view = memoryview(blob)
    (count,) = _INT.unpack_from(view, 0)
    at = 4
    for _ in range(count):
        fields: list[bytes | None] = []
        (idx,) = _INT.unpack_from(view, at)
        at += 4
        for _ in range(3):
            (size,) = _INT.unpack_from(view, at)
            at += 4
            if size < 0:
                fields.append(None)
            else:
                fields.append(bytes(view[at : at + size]))
                at += size
        channel, type_, value = fields
        assert channel is not None and type_ is not None  # NOT NULL columns
        out.append((idx, channel.decode(), type_.decode(), value))
    return out


def expand_writes(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Pending write rows (task_id, channel, type, blob, task_path, idx), packed ones
    (`PACKED_WRITES`) replaced by the writes they hold."""
    for row in rows:
        if row[2] != PACKED_WRITES or row[3] is None:
            yield row
            continue
        for idx, channel, type_, value in unpack_writes(row[3]):
            yield (row[0], channel, type_, value, row[4], idx)


# -- checkpoint rows (migration 0012) ------------------------------------------------
# A checkpoint row stores the checkpoint (without its id and values, which have columns
# of their own) as `packed` bytes: one format byte, then its JSON, zstd-compressed with
# `_CHECKPOINT_DICTIONARY` when that is smaller. Its JSON is orjson's (several times
# faster to write and read than the standard library's), or, for what orjson would not
# read back the same (integers beyond 64 bits, lone surrogates, NaN, which is refused as
# the jsonb refused it), `json.dumps`' (what psycopg sent for the jsonb before). What SQL reads
# of it stays in columns: the versions of the channels stored as blobs (`blob_versions`:
# in `blob_channels`' order, comma-separated, '' for none; left out of the JSON when
# they are str), and, for a checkpoint older than format 4, the whole jsonb
# (`pack_checkpoint` returns None; as for a blob version with a comma, or '').
CHECKPOINT_ZSTD = 1  # format bit: the JSON is compressed
CHECKPOINT_TS = 2  # format bit: "ts" is microseconds from the time in the checkpoint id
CHECKPOINT_STDLIB = 4  # format bit: the JSON is `json.dumps`', read by `json.loads`
# What orjson would write differently from `json.dumps` goes to `json.dumps`: datetimes,
# dataclasses and subclasses of str, int, dict, list (`default` None: a TypeError).
_ORJSON_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_UUID_EPOCH = 0x01B21DD213814000  # 100 ns intervals from 1582-10-15 to 1970-01-01
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _id_micros(checkpoint_id: str) -> int | None:
    """Microseconds since 1970 in a uuid6 checkpoint id (LangGraph's), else None: its
    60-bit time, in 100 ns intervals, is the first 12 hex digits and the 3 after the
    version digit."""
    if type(checkpoint_id) is not str or len(checkpoint_id) != 36 or checkpoint_id[14] != "6":
        return None
    try:
        ticks = int(checkpoint_id[:8] + checkpoint_id[9:13] + checkpoint_id[15:18], 16)
    except ValueError:
        return None
    return (ticks - _UUID_EPOCH) // 10


_last_second: tuple[int, str] = (0, _UNIX_EPOCH.isoformat()[:19])


def _ts_at(micros: int) -> str:
    """`datetime.isoformat()` of the UTC time `micros` after 1970 (without a fraction
    when it is 0, as isoformat does). The second's text is kept for the next call."""
    global _last_second
    second, fraction = divmod(micros, 1_000_000)
    last = _last_second  # one read: other threads replace the tuple whole
    if last[0] == second:
        text = last[1]
    else:
        text = (_UNIX_EPOCH + timedelta(seconds=second)).isoformat()[:19]
        _last_second = (second, text)
    return f"{text}.{fraction:06d}+00:00" if fraction else f"{text}+00:00"


def ts_offset(ts: Any, checkpoint_id: str) -> int | None:
    """`ts` as microseconds from the time its uuid6 checkpoint id holds, when `_ts_at`
    rebuilds exactly `ts` from them (LangGraph's `datetime.now(UTC).isoformat()`),
    else None.

    >>> ts_offset("2025-01-02T03:09:20.560714+00:00", "1efc8b6f-5d2b-6f0a-8000-000000000000")
    -3
    >>> ts_offset("2025-01-02 03:09:20.560714+00:00", "1efc8b6f-5d2b-6f0a-8000-000000000000")
    """
    if type(ts) is not str or (base := _id_micros(checkpoint_id)) is None:
        return None
    try:
        at = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    offset = (at - _UNIX_EPOCH) // _MICROSECOND - base
    return offset if _ts_at(base + offset) == ts else None


def pack_checkpoint(
    stored: Mapping[str, Any], checkpoint_id: str, blob_channels: Sequence[str]
) -> tuple[bytes, str | None] | None:
    """(packed bytes, blob_versions) of a checkpoint without its id and values; None:
    store it as jsonb (older than format 4, which SQL reads: `_sql.SELECT`'s sends; or a
    blob channel's version that `blob_versions` cannot hold)."""
    v = stored.get("v")
    if type(v) is not int or v < 4:
        return None
    body = dict(stored)
    versions = body.get("channel_versions")
    versions = dict(versions) if isinstance(versions, dict) else None
    parts: list[str] = []
    for channel in blob_channels:
        version = versions.get(channel) if versions is not None else None
        written = "" if version is None else str(version)
        if "," in written or (version is not None and not written):
            return None
        parts.append(written)
        if type(version) is str and versions is not None:
            del versions[channel]  # in blob_versions
    if versions is not None:
        body["channel_versions"] = versions
    blob_versions = ",".join(parts) if parts else None
    fmt = 0
    if (offset := ts_offset(body.get("ts"), checkpoint_id)) is not None:
        body["ts"] = offset
        fmt |= CHECKPOINT_TS
    try:
        text = orjson.dumps(body, option=_ORJSON_STRICT)
        # orjson writes NaN and infinities as null: `json.dumps` refuses them.
        stdlib = b"null" in text
    except (TypeError, orjson.JSONEncodeError):  # beyond 64 bits, a lone surrogate...
        stdlib = True
    if stdlib:
        text = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        fmt |= CHECKPOINT_STDLIB
    codecs = _take()
    try:
        packed = codecs.checkpoints.compress(text)
    finally:
        _give(codecs)
    if len(packed) < len(text):
        return bytes((fmt | CHECKPOINT_ZSTD,)) + packed, blob_versions
    return bytes((fmt,)) + text, blob_versions


def unpack_checkpoint(
    packed: bytes,
    checkpoint_id: str,
    blob_channels: Sequence[str],
    blob_versions: str | None,
) -> dict[str, Any]:
    """The checkpoint `pack_checkpoint` packed (without its id and values)."""
    fmt, body = packed[0], memoryview(packed)[1:]
    if fmt & CHECKPOINT_ZSTD:
        codecs = _take()
        try:
            text = codecs.checkpoints_out.decompress(body)
        finally:
            _give(codecs)
    else:
        text = bytes(body)
    checkpoint: dict[str, Any] = json.loads(text) if fmt & CHECKPOINT_STDLIB else orjson.loads(text)
    if fmt & CHECKPOINT_TS:
        base = _id_micros(checkpoint_id)
        assert base is not None  # CHECKPOINT_TS is set only then
        checkpoint["ts"] = _ts_at(base + checkpoint["ts"])
    versions = checkpoint.get("channel_versions")
    if blob_versions and isinstance(versions, dict):
        for channel, version in zip(blob_channels, blob_versions.split(","), strict=False):
            if version and channel not in versions:
                versions[channel] = version
    return checkpoint
