"""The Snowflake stand-in's spliced gzip answers: partition 0 of a shared
result is compressed once and spliced between per-statement pieces. Every
gzip reader must see one member holding exactly the JSON the unspliced path
sends, or the benchmark would measure a stand-in that lies."""

from __future__ import annotations

import gzip
import json
import zlib

from emulators.snowflake import Spliced, deflate_segment


def test_a_spliced_answer_is_one_gzip_member_of_the_same_json():
    rows = [[str(i), "Zoë" * (i % 5), None] for i in range(3000)]
    middle = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    prefix, suffix = b'{"resultSetMetaData":{"numRows":3000},"data":', b',"statementHandle":"01b2","code":"090001"}'
    spliced = Spliced(prefix, middle, suffix, deflate_segment(middle, final=False))
    packed = spliced.gzipped()
    assert spliced.plain() == prefix + middle + suffix
    assert json.loads(gzip.decompress(packed))["data"] == rows
    reader = zlib.decompressobj(wbits=31)
    assert reader.decompress(packed) == spliced.plain()
    assert reader.eof and reader.unused_data == b"", "one member, nothing after it"
    # Compressed about as well as the whole body at once.
    assert len(packed) < len(gzip.compress(spliced.plain())) * 1.01 + 64
