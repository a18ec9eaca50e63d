"""cProfile of the analysis after a one-character edit (what the server runs on a worker thread).

    python bench/profile_edit.py 3000 > bench/profiles/edit-3000.txt
"""

import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from generate import generate  # noqa: E402

from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402

lines = int(sys.argv[1]) if len(sys.argv) > 1 else 400
entry = generate(tempfile.mkdtemp(), lines, "decorator")
text = Path(entry).read_text()
analyzer = Analyzer()
analyzer.analyze_file(entry)  # warm: imports, other modules parsed
prof = cProfile.Profile()
prof.enable()
for i in range(10):
    analyzer.set_overlay(entry, text.replace("'meta_0'", f"'meta_0{i}'"))
    analyzer.analyze_file(entry)
prof.disable()
out = io.StringIO()
pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
repo = str(Path(__file__).resolve().parents[1])
print(f"# 10 edits of a {lines}-line generated integration\n")
print(out.getvalue().replace(repo, "<repo>").replace(tempfile.gettempdir(), "<tmp>"))
