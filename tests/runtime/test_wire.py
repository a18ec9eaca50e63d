"""What may cross the wire between the child and the server (``wire``), and the request
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


def test_user_containers_that_break_when_walked_do_not_break_the_wire():
    class Items(dict):
        def items(self):
            raise RuntimeError("no")

    class Iter(list):
        def __iter__(self):
            raise RuntimeError("no")

    assert wire.clean({"d": Items(a=1), "l": Iter([1])}) == {"d": {"a": 1}, "l": "<Iter>"}
