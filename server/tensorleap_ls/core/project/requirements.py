"""requirements.txt: which distributions a project declares, and which distribution provides an
import name (``cv2`` -> opencv-python...). Only what the bundle check needs."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable

from tensorleap_ls.core.source import files as safe_files

try:
    import tomllib  # novermin: tomli below on Python < 3.11
except ImportError:  # Python < 3.11 (the server's floor is 3.9): the same parser, published as tomli
    import tomli as tomllib

# code-loader 1.0.214's declared requirements: the `Requires-Dist` lines of the METADATA in
# site-packages/code_loader-1.0.214.dist-info (mixpanel, numpy, psutil, pyyaml, requests). The platform
# provides the SDK, so these are present whether or not requirements.txt lists them.
SDK_DISTRIBUTION = "code-loader"
SDK_REQUIREMENTS = ("mixpanel", "numpy", "psutil", "pyyaml", "requests")
PLATFORM_PROVIDED = frozenset((SDK_DISTRIBUTION, *SDK_REQUIREMENTS))

# Import names whose distribution is named differently (the usual suspects in ML integrations).
IMPORT_TO_DISTS: dict[str, tuple[str, ...]] = {
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"),
    "PIL": ("pillow", "pil"),
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "yaml": ("pyyaml",),
    "code_loader": ("code-loader",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly", "tensorflow-gpu"),
    "tf_keras": ("tf-keras",),
    "google": ("protobuf", "google-cloud-storage", "google-api-core", "google-auth"),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "dotenv": ("python-dotenv",),
    "attr": ("attrs",),
    "jwt": ("pyjwt",),
    "Crypto": ("pycryptodome",),
    "pycocotools": ("pycocotools", "pycocotools-windows"),
    "torchvision": ("torchvision",),
    "transformers": ("transformers",),
    "huggingface_hub": ("huggingface-hub",),
    "boto3": ("boto3",),
    "botocore": ("botocore", "boto3"),
    "matplotlib": ("matplotlib",),
    "mpl_toolkits": ("matplotlib",),
    "jose": ("python-jose",),
    "magic": ("python-magic",),
    "serial": ("pyserial",),
    "git": ("gitpython",),
    "fitz": ("pymupdf",),
    "docx": ("python-docx",),
    "pkg_resources": ("setuptools",),  # there is no `pkg-resources` distribution
    "setuptools": ("setuptools",),
    "google_crc32c": ("google-crc32c",),
    "absl": ("absl-py",),
    "tensorflow_datasets": ("tensorflow-datasets",),
    "ultralytics": ("ultralytics",),
}
# Dotted modules shipped by a distribution other than their top-level package's (rules.md 12: "Import names
# can differ from pip names (`code_loader.helpers` -> `code-loader-helpers`)").
SUBPACKAGE_DISTS: dict[str, str] = {"code_loader.helpers": "code-loader-helpers"}
# Distributions that bring others with them (declaring the first covers imports of the rest).
PROVIDES: dict[str, tuple[str, ...]] = {
    SDK_DISTRIBUTION: SDK_REQUIREMENTS,
    "tensorflow": ("keras", "numpy", "h5py", "protobuf"),
    "tensorflow-cpu": ("keras", "numpy", "h5py", "protobuf"),
    "torch": ("numpy",),
    "torchvision": ("torch", "numpy", "pillow"),
    "pandas": ("numpy", "python-dateutil", "pytz"),
    "scikit-learn": ("numpy", "scipy", "joblib"),
    "matplotlib": ("numpy", "pillow", "python-dateutil"),
    "onnx": ("numpy", "protobuf"),
    "transformers": ("numpy", "huggingface-hub", "tokenizers", "pyyaml", "requests"),
    "opencv-python": ("numpy",),
    "opencv-python-headless": ("numpy",),
}
REQUIREMENT_FILES = ("requirements.txt", "pyproject.toml", "tensorleap_requirements.txt")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_for(import_name: str) -> tuple[str, ...]:
    return tuple(normalize(d) for d in IMPORT_TO_DISTS.get(import_name, (import_name,)))


def parse_pyproject(path: str, read_text: Callable[[str], str | None]) -> set[str]:
    """Normalised runtime dependencies of a pyproject.toml: poetry's ``[tool.poetry.dependencies]`` and
    PEP 621 ``[project] dependencies`` (dev groups and extras left out). Empty if absent or broken."""
    text = read_text(path)
    if text is None:
        return set()
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return set()
    names: set[str] = set()
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    if isinstance(poetry, dict):
        names.update(normalize(k) for k in poetry if k.lower() != "python")
    project = data.get("project", {}).get("dependencies", [])
    if isinstance(project, list):
        for spec in project:
            m = _NAME.match(spec) if isinstance(spec, str) else None
            if m:
                names.add(normalize(m.group(1)))
    return names


def parse_requirements(path: str, read_text: Callable[[str], str | None], depth: int = 0) -> set[str] | None:
    """Normalised distribution names of a requirements file (following ``-r``); None if absent."""
    text = read_text(path)
    if text is None:
        return None
    names: set[str] = set()
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")) and depth < 5:
            inc = line.split(None, 1)[1].strip()
            sub = parse_requirements(os.path.join(os.path.dirname(path), inc), read_text, depth + 1)
            names |= sub or set()
            continue
        if line.startswith("-"):
            continue
        if "#egg=" in line:
            names.add(normalize(line.rsplit("#egg=", 1)[1]))
            continue
        m = _NAME.match(line)
        if m:
            names.add(normalize(m.group(1)))
    closure = set(names)
    for n in names:
        closure.update(normalize(p) for p in PROVIDES.get(n, ()))
    return closure


def _poetry_spec(name: str, value) -> str:
    """A poetry dependency as a pip requirement: exact versions pinned, operators kept, ^/~ as >=."""
    version = value.get("version") if isinstance(value, dict) else value
    if not isinstance(version, str) or version.strip() in ("", "*"):
        return name
    v = version.strip()
    if v[0].isdigit():
        return f"{name}=={v}"
    if v[0] in "^~" and not v.startswith("~="):
        return f"{name}>={v.lstrip('^~')}"
    return f"{name}{v}"


def install_args(root: str, read_text: Callable[[str], str | None], sdk_version: str) -> list[str]:
    """What ``pip install`` gets to give an interpreter the project's dependencies, pinned as the project
    pins them: ``-r requirements.txt`` (the file the platform installs), else pyproject.toml's
    dependencies; code-loader pinned to ``sdk_version`` when neither lists it."""
    req = os.path.join(root, "requirements.txt")
    declared = parse_requirements(req, read_text)
    if declared is not None:
        return ["-r", req] + ([] if SDK_DISTRIBUTION in declared else [f"{SDK_DISTRIBUTION}=={sdk_version}"])
    specs: list[str] = []
    text = read_text(os.path.join(root, "pyproject.toml"))
    try:
        data = tomllib.loads(text) if text else {}
    except (tomllib.TOMLDecodeError, ValueError):
        data = {}
    project = data.get("project", {}).get("dependencies", []) if isinstance(data.get("project"), dict) else []
    specs += [s.strip() for s in project if isinstance(s, str) and _NAME.match(s)] if isinstance(project, list) else []
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {}) if isinstance(data.get("tool"), dict) else {}
    if isinstance(poetry, dict):
        specs += [_poetry_spec(k, v) for k, v in poetry.items() if k.lower() != "python"]
    if not any(normalize(_NAME.match(s).group(1)) == SDK_DISTRIBUTION for s in specs):
        specs.insert(0, f"{SDK_DISTRIBUTION}=={sdk_version}")
    return specs

# --- what the environment has installed (read from its dist-info folders, never imported) ---------------------
_MAX_DISTS = 3000  # an environment with more distributions is read up to here (sorted by name)
_MAX_META = 512_000  # bytes of METADATA / RECORD read per distribution


@dataclass(frozen=True)
class Installed:
    """The installed distributions of an environment: which top-level modules and dotted packages each
    provides (top_level.txt, RECORD) and what each requires (``Requires-Dist`` without extras)."""

    provides: dict[str, frozenset] = field(default_factory=dict)  # module ("cv2", "code_loader.helpers") -> dists
    requires: dict[str, frozenset] = field(default_factory=dict)  # dist -> the dists it requires

    def owners(self, module: str) -> tuple[int, tuple[str, ...]]:
        """(depth, distributions) providing ``module``: the deepest package listed wins (code_loader.helpers.x
        -> code-loader-helpers when it is installed, code_loader.contract -> code-loader)."""
        parts = module.split(".")
        for n in range(len(parts), 0, -1):
            found = self.provides.get(".".join(parts[:n]))
            if found:
                return n, tuple(sorted(found))
        return 0, ()

    def installed(self, dist: str) -> bool:
        return normalize(dist) in self.requires

    def pulled_in(self, declared: Iterable[str]) -> set[str] | None:
        """Every distribution the declared ones bring, transitively; None when one of them (or of theirs) is
        not installed and not in the curated PROVIDES table: what it pulls in is unknown."""
        out: set[str] = set()
        todo = [normalize(d) for d in declared]
        wanted = set(todo)
        while todo:
            d = todo.pop()
            if d in out:
                continue
            out.add(d)
            if d in self.requires:
                todo.extend(self.requires[d])
            elif d in PROVIDES:
                todo.extend(normalize(x) for x in PROVIDES[d])
            elif d in wanted:
                return None  # a declared distribution this environment does not have: cannot know
        return out


def installed(sites: Iterable[str], store=None) -> Installed:
    """What the environment's site-packages folders hold (cached by each folder's modification time: a
    package installed or removed changes it). ``store`` (the persistent cache, engine/store.py): each folder's
    scan is kept there under that time, so a new run does not read every distribution's RECORD again."""
    stamped = []
    for site in sites:
        try:
            stamped.append((site, os.stat(site).st_mtime_ns))
        except OSError:
            continue
    return _installed(tuple(stamped), store)


@lru_cache(maxsize=8)
def _installed(stamped: tuple, store=None) -> Installed:
    provides: dict[str, set] = {}
    requires: dict[str, frozenset] = {}
    for site, stamp in stamped:
        for name, tops, reqs in (_site(site, stamp) if store is None else _site_stored(site, stamp, store)):
            requires.setdefault(name, reqs)
            for t in tops:
                provides.setdefault(t, set()).add(name)
    return Installed({k: frozenset(v) for k, v in provides.items()}, requires)


_REQ = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.M)
_NAME_LINE = re.compile(r"^Name:\s*(\S+)", re.M)


def _site_stored(site: str, stamp: int, store) -> tuple:
    """``_site`` through the persistent cache (keyed by the folder and its modification time)."""
    key = f"site-packages|{site}|{stamp}"
    data = store.get(key)
    try:
        return tuple((str(n), frozenset(map(str, tops)), frozenset(map(str, reqs))) for n, tops, reqs in data["site"])
    except (TypeError, KeyError, ValueError):
        pass
    out = _site(site, stamp)
    store.put(key, {"site": [[n, sorted(tops), sorted(reqs)] for n, tops, reqs in out]})
    return out


@lru_cache(maxsize=32)
def _site(site: str, _stamp: int) -> tuple:
    out = []
    for info in sorted(glob.glob(os.path.join(glob.escape(site), "*.dist-info")))[:_MAX_DISTS]:
        meta = _read(os.path.join(info, "METADATA"))
        m = _NAME_LINE.search(meta or "")
        if m is None:
            continue
        reqs = frozenset(normalize(r.group(1)) for r in _REQ.finditer(meta) if "extra ==" not in r.group(2)
                         and "extra==" not in r.group(2))
        tops: set[str] = set()
        top_level = _read(os.path.join(info, "top_level.txt"))
        if top_level:
            tops.update(t.strip().replace("/", ".") for t in top_level.splitlines() if t.strip())
        record = _read(os.path.join(info, "RECORD"))
        for line in (record or "").splitlines():
            path = line.split(",", 1)[0]
            if not path.endswith(".py") or path.startswith(("..", "/")) or ".dist-info/" in path:
                continue
            parts = path[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts and all(p.isidentifier() for p in parts):
                tops.add(parts[0])
                if len(parts) > 1:  # packages below the top one, for a namespace shared by two distributions
                    tops.add(".".join(parts[:2]))
        out.append((normalize(m.group(1)), frozenset(tops), reqs))
    return tuple(out)


def _read(path: str) -> str | None:
    try:
        return safe_files.read_text(path, _MAX_META, errors="replace")
    except (OSError, ValueError):
        return None


def owners_of(module: str, env: Installed) -> tuple[str, ...]:
    """Distributions that provide ``module``: the environment's records, else the curated tables."""
    depth, found = env.owners(module)
    for prefix, dist in SUBPACKAGE_DISTS.items():
        if (module == prefix or module.startswith(prefix + ".")) and depth < prefix.count(".") + 1:
            return (dist,)
    return found or distributions_for(module.split(".")[0])
