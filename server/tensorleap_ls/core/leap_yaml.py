"""(scratch stand-in) minimal leap.yaml reader."""
from dataclasses import dataclass, field
import yaml

@dataclass
class LeapYaml:
    path: str
    entry_file: str | None = None
    include: list | None = None
    exclude: list | None = None
    python_version: str | None = None
    findings: list = field(default_factory=list)

def parse_leap_yaml(path, text):
    ly = LeapYaml(path)
    try:
        data = yaml.safe_load(text)
    except Exception:
        return ly
    if isinstance(data, dict):
        ly.entry_file = data.get("entryFile") if isinstance(data.get("entryFile"), str) else None
    return ly
