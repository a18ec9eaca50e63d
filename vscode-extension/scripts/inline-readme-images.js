// The README shown in the Extensions view: VS Code renders it in a webview that loads images only
// from https: or data: URLs, and a .vsix installed from disk has no web home for relative paths. So
// the packaged copy carries its PNGs inline; README.md itself keeps relative paths (for the repository).
// usage: node scripts/inline-readme-images.js README.md out.md
const fs = require("fs");
const path = require("path");
const [src, out] = process.argv.slice(2);
const dir = path.dirname(path.resolve(src));
const text = fs.readFileSync(src, "utf8").replace(/!\[([^\]]*)\]\(([^)\s]+\.png)\)/g, (m, alt, rel) => {
  if (/^[a-z]+:/i.test(rel)) return m;
  const data = fs.readFileSync(path.join(dir, rel)).toString("base64");
  return `![${alt}](data:image/png;base64,${data})`;
});
fs.writeFileSync(out, text);
