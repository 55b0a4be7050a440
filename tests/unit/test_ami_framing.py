"""AMI framing on bytes: frames cut anywhere, multi-byte characters, bad frames."""

from __future__ import annotations

import pytest
from panoramisk.message import Message

from cti.ami.framing import FrameBuffer, MalformedFrame, event_name, parse_message
from tests.support.fake_ami import frame

NAMES = ("张伟 (李氏贸易有限公司)", "José Müller", "😀 emoji caller", "王芳")


def stream() -> bytes:
    return b"".join(
        frame(Event="Newchannel", CallerIDName=name, Linkedid=str(n), Uniqueid=str(n))
        for n, name in enumerate(NAMES)
    )


def feed_all(chunks: list[bytes]) -> list[Message]:
    buffer = FrameBuffer()
    out: list[Message] = []
    for chunk in chunks:
        for raw in buffer.feed(chunk):
            message = parse_message(raw)
            assert message is not None
            out.append(message)
    assert len(buffer) == 0
    return out


def test_a_stream_cut_at_every_byte_gives_every_frame_whole() -> None:
    data = stream()
    for cut in range(1, len(data)):
        messages = feed_all([data[:cut], data[cut:]])
        assert [m["CallerIDName"] for m in messages] == list(NAMES), cut


def test_a_stream_read_one_byte_at_a_time_loses_no_character() -> None:
    data = stream()
    messages = feed_all([data[i : i + 1] for i in range(len(data))])
    assert [m["CallerIDName"] for m in messages] == list(NAMES)
    assert [m["Linkedid"] for m in messages] == ["0", "1", "2", "3"]


def test_cuts_inside_each_byte_of_a_four_byte_character_keep_it() -> None:
    data = frame(Event="Newchannel", CallerIDName="😀")
    start = data.index("😀".encode())
    for offset in range(1, 4):
        cut = start + offset
        [message] = feed_all([data[:cut], data[cut:]])
        assert message["CallerIDName"] == "😀"


def test_a_frame_end_split_over_three_reads_is_found() -> None:
    data = frame(Event="Hangup", Linkedid="1") + frame(Event="Hangup", Linkedid="2")
    end = data.index(b"\r\n\r\n")
    chunks = [data[: end + 1], data[end + 1 : end + 2], data[end + 2 : end + 3], data[end + 3 :]]
    assert [m["Linkedid"] for m in feed_all(chunks)] == ["1", "2"]


def test_a_partial_frame_waits_for_its_end() -> None:
    buffer = FrameBuffer()
    assert buffer.feed(b"Event: Hangup\r\nLinkedid: 1\r\n") == []
    assert len(buffer) > 0
    assert buffer.feed(b"\r\nEvent: Dial") == [b"Event: Hangup\r\nLinkedid: 1"]
    assert buffer.feed(b"Begin\r\n\r\n") == [b"Event: DialBegin"]


def test_bytes_without_a_frame_end_overflow_the_limit() -> None:
    buffer = FrameBuffer(max_bytes=100)
    buffer.feed(b"x" * 60)
    assert not buffer.overflowed
    buffer.feed(b"y" * 60)
    assert buffer.overflowed


def test_parsed_message_is_the_one_panoramisk_gives() -> None:
    text = "Event: VarSet\r\nChannel: PJSIP/x-1\r\nVariable: HOTLINE_IVR_PATH\r\nValue: a: b"
    mine = parse_message(text.encode())
    theirs = Message.from_line(text)
    assert mine is not None
    assert dict(mine.items()) == dict(theirs.items())
    assert mine["value"] == "a: b"  # case-insensitive, split at the first ": "
    assert mine.get("VALUE") == "a: b"
    assert "variable" in mine and "Missing" not in mine
    assert mine.get("Missing", "none") == "none"
    assert mine.missing == ""  # panoramisk's attribute access still works


def test_repeated_headers_become_a_list_as_in_panoramisk() -> None:
    message = parse_message(b"Event: Status\r\nChanVariable: A=1\r\nChanVariable: B=2")
    assert message is not None
    assert message["ChanVariable"] == ["A=1", "B=2"]


def test_a_response_with_a_body_keeps_its_body() -> None:
    message = parse_message(b"Response: Follows\r\nActionID: 7\r\nline one\n--END COMMAND--")
    assert message is not None
    assert message.id == "7"
    assert message["content"] == "line one\n--END COMMAND--"


def test_invalid_utf8_is_replaced_not_dropped() -> None:
    message = parse_message(b"Event: Newchannel\r\nCallerIDName: Jos\xe9 M\xfcller")
    assert message is not None
    assert message["CallerIDName"] == "Jos\ufffd M\ufffdller"


def test_a_frame_without_event_or_response_is_a_clear_error() -> None:
    with pytest.raises(MalformedFrame, match="without Event or Response.*not AMI"):
        parse_message(b"this is not AMI")


def test_a_blank_frame_is_nothing() -> None:
    assert parse_message(b"  \r\n ") is None


def test_the_event_name_is_read_from_bytes() -> None:
    assert event_name(b"Event: Newexten\r\nChannel: x") == b"Newexten"
    assert event_name(b"Event: Hangup") == b"Hangup"
    assert event_name(b"Response: Success\r\nEvent: x") is None
