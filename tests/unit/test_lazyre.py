"""shared.lazyre: patterns compiled on first use answer exactly as `re` does, and importing the
modules of a cold start compiles none of their module-level patterns (issue 17)."""
import re
import threading

import pytest

from shared import lazyre

CASES = [
    (r"[A-Za-z0-9_-]{1,128}", 0, ["abc-1", "", "a b", "x" * 129]),
    (r"(?i)\b(bearer)\s+[^\s\"',;\\]+", 0, ["Authorization: Bearer abc.def", "bearer", "no"]),
    (r"authorization|secret|token$", re.IGNORECASE, ["X-Secret", "access_TOKEN", "tokens"]),
]


@pytest.mark.parametrize(("source", "flags", "texts"), CASES)
def test_every_method_answers_as_re_does(source, flags, texts):
    lazy, real = lazyre.compile(source, flags), re.compile(source, flags)
    assert lazy._compiled is None  # nothing compiled until first used
    for text in texts:
        for method in ("match", "fullmatch", "search"):
            got, want = getattr(lazy, method)(text), getattr(real, method)(text)
            assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (method, text)
        assert lazy.findall(text) == real.findall(text)
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
        assert lazy.sub("*", text) == real.sub("*", text) and lazy.subn("*", text) == real.subn("*", text)
        assert lazy.split(text) == real.split(text)
    assert lazy.compiled is lazy.compiled and lazy.pattern == source


def test_threads_racing_the_first_use_all_get_a_working_pattern():
    lazy = lazyre.compile(r"(a+)(b*)")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        m = lazy.fullmatch("aaabb")
        results.append(m and m.groups())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("aaa", "bb")] * 8


def test_importing_the_key_layout_compiles_none_of_its_patterns():
    import subprocess
    import sys

    code = ("import shared.archive.layout as l, shared.log as g, shared.api.policy as p\n"
            "from shared.lazyre import LazyPattern\n"
            "mods = (l, g, p)\n"
            "pats = [v for m in mods for v in vars(m).values() if isinstance(v, LazyPattern)]\n"
            "pats += [v for v, _ in g._SENSITIVE_TEXT]\n"
            "print(len(pats), sum(v._compiled is not None for v in pats))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) >= 20 and out[1] == "0"
