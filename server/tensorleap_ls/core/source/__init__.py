"""Source text: safe reading of project files and the text <-> position mapping."""
