#!/usr/bin/env node
// Renders the plugin's PNG icons from one SVG drawing with sharp, so every size and theme stays in step.
// Run `node tools/make-icons.js` after changing the drawing; the PNGs in icons/ are committed.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const sharp = require('sharp');

const outDir = path.join(__dirname, '..', 'icons');

/** A brush stroke over a square canvas: the panel's mark. `ink` is the glyph colour for the theme. */
function drawing(ink, accent) {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48">
  <rect x="5" y="5" width="38" height="38" rx="6" fill="none" stroke="${ink}" stroke-width="3"/>
  <path d="M12 33 C18 21, 26 35, 36 15" fill="none" stroke="${accent}" stroke-width="5" stroke-linecap="round"/>
  <circle cx="36" cy="15" r="3.5" fill="${ink}"/>
</svg>`;
}

// Panel icons are drawn in the UI's text colour for the theme: light glyphs on dark themes and vice versa.
const variants = [
  { name: 'panel-dark', size: 23, ink: '#e8e8e8', accent: '#4aa3ff' },
  { name: 'panel-light', size: 23, ink: '#323232', accent: '#1473e6' },
  { name: 'plugin', size: 48, ink: '#505050', accent: '#1473e6' },
];

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  for (const v of variants) {
    for (const scale of [1, 2]) {
      const file = path.join(outDir, `${v.name}@${scale}x.png`);
      await sharp(Buffer.from(drawing(v.ink, v.accent)), { density: 72 * scale * (v.size / 48) * 8 })
        .resize(v.size * scale, v.size * scale)
        .png()
        .toFile(file);
      console.log(file);
      // UXP looks for name@1x.png and name@2x.png; some versions take the plain name for 1x.
      if (scale === 1) fs.copyFileSync(file, path.join(outDir, `${v.name}.png`));
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
