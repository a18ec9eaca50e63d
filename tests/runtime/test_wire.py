"""What may cross the wire between the child and the server (``wire``), and the request and reply
dataclasses both sides share (``protocol``): unit level, no child process."""

from __future__ import annotations

import json
import math
import urllib.parse

import pytest

from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol, wire

SECRET = 'k\u00e9y"with\\slash'


@pytest.mark.parametrize("spelling", [
    SECRET, repr(SECRET)[1:-1], ascii(SECRET)[1:-1], json.dumps(SECRET)[1:-1], urllib.parse.quote(SECRET),
    urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET), repr(SECRET.encode())[2:-1]])
def test_every_spelling_of_the_secret_is_scrubbed(spelling):
    scrub = wire.Scrubber(SECRET)
    assert scrub(f"before {spelling} after") == "before *** after"
    cleaned = wire.clean({spelling: [spelling, (spelling,)]}, scrub)
    assert cleaned == {"***": ["***", ["***"]]}


def test_short_or_missing_secrets_scrub_nothing():
    for secret in (None, "", "abc", ["not", "a", "string"]):
        assert wire.Scrubber(secret)("abc abc") == "abc abc"


def test_non_finite_floats_become_display_strings_and_dumps_is_strict():
    value = {"nan": math.nan, "inf": math.inf, "neg": -math.inf, "ok": 1.5, "nested": [math.nan]}
    text = wire.dumps(value)

    def refuse(name):
        raise ValueError(name)

    assert json.loads(text, parse_constant=refuse) == {
        "nan": "NaN", "inf": "Infinity", "neg": "-Infinity", "ok": 1.5, "nested": ["NaN"]}
    assert wire.dumps(math.nan) == '"NaN"' and wire.dumps([-math.inf]) == '["-Infinity"]'


def test_keys_sets_bytes_and_unknown_objects_become_json_values():
    class Odd:
        def __repr__(self):
            return "<odd>"

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    out = wire.clean({("a", 1): {3, 1, 2}, 5: b"\x00x", "o": Odd(), "b": Broken(), "big": 1 << 70})
    assert out == {"('a', 1)": [1, 2, 3], "5": "b'\\x00x'", "o": "<odd>", "b": "<Broken>", "big": str(1 << 70)}
    json.dumps(out, allow_nan=False)


def test_sizes_are_bounded():
    out = wire.clean({"s": "x" * (wire.MAX_STR + 10), "l": list(range(wire.MAX_ITEMS + 5))})
    assert len(out["s"]) < wire.MAX_STR + 50 and out["s"].endswith("[10 characters cut]")
    assert len(out["l"]) == wire.MAX_ITEMS + 1 and out["l"][-1] == "... 5 more items cut"
    deep: list = []
    for _ in range(100):
        deep = [deep]
    assert "nested too deeply" in json.dumps(wire.clean(deep))


def test_rendered_pixels_pass_whole_up_to_their_cap():
    data = "A" * (wire.MAX_STR * 2)
    spec = {"kind": "rgb", "width": 1, "height": 1, "data": data}
    assert wire.clean(spec)["data"] == data  # base64 pixels are not text to cut
    huge = wire.clean({**spec, "data": "A" * (wire.MAX_PIXELS + 1)})
    assert "data" not in huge and "not shown" in huge["reduced"]


def test_requests_round_trip_through_the_wire():
    req = protocol.Preview(subset="validation", sample_id="s1", loaders=["load"], functions={"f": ["metric", "m"]},
                           timeout_s=5, preprocess_timeout_s=60)
    msg = json.loads(json.dumps(req.to_wire(7)))
    assert msg["cmd"] == "preview" and msg["id"] == 7
    assert protocol.from_wire({**msg, "unknown": 1}) == req
    with pytest.raises(KeyError):
        protocol.from_wire({"cmd": "format_disk"})


def test_replies_round_trip_through_the_wire():
    found = protocol.Problem(code="TL505", message="NaN", file="/p/a.py", line=3, sample=0, subset="training")
    reply = protocol.Checked(findings=[found], calls=4, samples=2, failures=[],
                             observed=[protocol.Observation("input", "image", "shape (28, 28), dtype float32")])
    msg = json.loads(wire.dumps(reply.to_wire(7)))
    assert msg["id"] == 7 and msg["findings"] == [{"message": "NaN", "code": "TL505", "file": "/p/a.py", "line": 3,
                                                   "sample": 0, "subset": "training"}]
    assert "message" not in msg and "user_seconds" not in msg  # None is not sent
    assert protocol.Checked.from_wire(msg) == reply
    loaded = protocol.Loaded(ok=False, error=protocol.Problem(type="ImportError", message="no cv2", file="/p/e.py",
                                                              line=1))
    assert protocol.Loaded.from_wire(json.loads(json.dumps(loaded.to_wire(1)))) == loaded
    shown = protocol.Previewed(subset="training", sample_id=0, metadata=[{"name": "m", "value": 1}],
                               problems=[protocol.Problem(type="internal", internal=True, message="ours")])
    payload = shown.payload()
    assert "findings" not in payload and "id" not in payload and payload["problems"][0]["internal"] is True
    assert protocol.Previewed.from_wire(payload) == shown


def test_a_reply_of_the_wrong_shape_falls_back_to_defaults():
    """User code can write on the channel: whatever arrives parses, into the request's reply type."""
    bad = protocol.Checked.from_wire({"ok": False, "findings": 5, "observed": [1, {"kind": "input", "x": 2}],
                                      "setup": "x", "id": 3})
    assert (bad.ok, bad.findings, bad.observed, bad.calls) == (False, [], [protocol.Observation(kind="input")], None)
    assert protocol.Loaded.from_wire({"ok": True, "setup": [1]}).setup == protocol.Setup()
    assert protocol.Loaded.from_wire("not an object") == protocol.Loaded()
    for cmd, request in protocol.COMMANDS.items():  # every request names its reply, a Reply
        assert issubclass(request.REPLY, protocol.Reply) and request.REPLY is not protocol.Reply, cmd


def test_user_containers_that_break_when_walked_do_not_break_the_wire():
    class Items(dict):
        def items(self):
            raise RuntimeError("no")

    class Iter(list):
        def __iter__(self):
            raise RuntimeError("no")

    assert wire.clean({"d": Items(a=1), "l": Iter([1])}) == {"d": {"a": 1}, "l": "<Iter>"}
