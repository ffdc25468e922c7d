"""The hot-function list build.rs hands the linker (link-order/, written by scripts/link-order
through bench/link_order.py): its parsers on real-format input, and the committed list itself."""

from __future__ import annotations

import re
from pathlib import Path

from bench import link_order

ROOT = Path(__file__).resolve().parents[2]

# Lines as LLD 22 writes them with -Map: an output section, input sections (object:(section)),
# and the demangled symbol lines under each.
MAP = """\
             VMA              LMA     Size Align Out     In      Symbol
          463700           463700   895f1b    64 .text
          4668b0           4668b0       4d    16         /t/deps/bootstrap-1.rcgu.o:(.text._RNvCs1_7___rustc12___rust_alloc)
          4668b0           4668b0       4d     1                 __rustc::__rust_alloc
          466900           466900       9d    16         /t/deps/bootstrap-1.rcgu.o:(.text.unlikely._ZN4core9panicking9panic_fmt17h0E)
          466900           466900       9d     1                 core::panicking::panic_fmt
          4669a0           4669a0        0    16         /t/deps/bootstrap-1.rcgu.o:(.text._ZN5empty17h1E)
          4669a0           4669a0      200    16         /t/deps/libcrypto.o:(.text)
          466ba0           466ba0      100    16         /t/deps/bootstrap-2.rcgu.o:(.text._ZN4sha26sha2567x86_sha8compress17h2E)
          466ca0           466ca0      100    16         /t/deps/bootstrap-2.rcgu.o:(.text._ZN4sha26sha2564soft8compress17h3E)
          466da0           466da0       80    16         /t/deps/bootstrap-2.rcgu.o:(.text._ZN6parquet5write17h4E)
          467000           467000      100    16         /t/deps/bootstrap-3.rcgu.o:(.text._ZN6memchr4arch4avx26Finder4find17h5E)
"""


def test_map_sections_are_function_sections_named_by_their_mangled_symbol(tmp_path):
    path = tmp_path / "bootstrap.map"
    path.write_text(MAP)
    sections = link_order.read_map(path)
    assert [n for _, _, n in sections] == [
        "_RNvCs1_7___rustc12___rust_alloc",
        "_ZN4core9panicking9panic_fmt17h0E",           # the cold prefix dropped
        "_ZN4sha26sha2567x86_sha8compress17h2E",
        "_ZN4sha26sha2564soft8compress17h3E",
        "_ZN6parquet5write17h4E",
        "_ZN6memchr4arch4avx26Finder4find17h5E",
    ]                                                  # no empty section, no unnamed .text
    assert sections[0][:2] == (0x4668b0, 0x4668b0 + 0x4d)


def test_executed_addresses_become_their_functions_in_link_order(tmp_path):
    path = tmp_path / "bootstrap.map"
    path.write_text(MAP)
    sections = link_order.read_map(path)
    # Inside the soft SHA-256 (twice), the cold panic path, and the unnamed .text: not a function.
    hot = link_order.hot_functions(sections, {0x466cb0, 0x466d00, 0x466910, 0x4669b0})
    # The panic path and the soft variant, in link order; the x86_sha variant comes with it
    # (valgrind cannot run SHA-NI), parquet does not, nor memchr's AVX2 (no memchr code ran).
    assert hot == ["_ZN4core9panicking9panic_fmt17h0E", "_ZN4sha26sha2567x86_sha8compress17h2E",
                   "_ZN4sha26sha2564soft8compress17h3E"]


def test_callgrind_instruction_lines_of_the_binary_only(tmp_path):
    out = tmp_path / "callgrind.out"
    out.write_text("ob=/usr/lib/libc.so.6\nfn=0x0000000000029d90\n0x29d90 4\n"
                   "ob=target/link-order/bootstrap\nfn=0x00000000004668b0'2\n0x4668b0 3\n0x4668b4 1\n"
                   "calls=1 0x466900\n0x4668b8 9\n")
    assert link_order.executed(out, Path("/x/bootstrap")) == {0x4668b0, 0x4668b4, 0x4668b8}


def test_coverage_counts_listed_symbols_in_the_build_and_the_hot_lead(tmp_path):
    path = tmp_path / "bootstrap.map"
    path.write_text(MAP)
    sections = link_order.read_map(path)
    listed = ["_RNvCs1_7___rustc12___rust_alloc", "_ZN4core9panicking9panic_fmt17h0E", "_ZN4gone17h9E"]
    # Two of three listed are in this build, and they are its first two function sections.
    assert link_order.coverage(sections, listed) == {"listed": 3, "in_build": 2, "leading_sections": 2}
    assert link_order.coverage(sections, listed[1:])["leading_sections"] == 0


def test_the_committed_list_is_one_symbol_per_line_without_repeats():
    for path in sorted((ROOT / "link-order").glob("*.txt")):
        lines = path.read_text().splitlines()
        assert len(lines) > 500, path
        assert len(set(lines)) == len(lines), f"{path}: repeated symbols"
        bad = [line for line in lines if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", line)]
        assert not bad, f"{path}: not symbol names: {bad[:3]}"
        # A cold start runs the entry point and the handler: a list without them is not a profile.
        assert any("bootstrap4main" in line for line in lines)
        assert any("secret_fetch3app" in line for line in lines)
