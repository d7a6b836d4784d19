#!/usr/bin/env node
// Packs the built panel (dist/plugin/, from `npm run build:plugin`) into dist/<plugin id>.ccx, the zip that
// Creative Cloud installs on double-click. Only the panel's own files go in: dist/plugin/ also holds tsc's
// per-file output for the tests. Written with node:zlib so no zip dependency is needed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'plugin');
const PANEL_FILES = ['manifest.json', 'index.html', 'styles.css', 'panel.js'];
const PANEL_DIRS = ['icons'];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal zip (deflate, no zip64): local headers + data, then the central directory. */
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  const dosTime = 0; // 00:00:00
  const dosDate = (2026 - 1980) << 9 | 1 << 5 | 1; // fixed date: reproducible archives
  for (const { name, data } of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const deflated = zlib.deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBuf, deflated);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(deflated.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + deflated.length;
  }
  const centralBuf = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBuf, end]);
}

function main() {
  const manifestPath = path.join(built, 'manifest.json');
  if (!fs.existsSync(manifestPath) || !fs.existsSync(path.join(built, 'panel.js'))) {
    throw new Error(`${built} has no built panel; run \`npm run build:plugin\` first`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const entries = PANEL_FILES.map((name) => ({ name, data: fs.readFileSync(path.join(built, name)) }));
  for (const dir of PANEL_DIRS) {
    for (const file of fs.readdirSync(path.join(built, dir)).sort()) {
      entries.push({ name: `${dir}/${file}`, data: fs.readFileSync(path.join(built, dir, file)) });
    }
  }
  const out = path.join(root, 'dist', `${manifest.id}.ccx`);
  fs.writeFileSync(out, zip(entries));
  console.log(`${path.relative(root, out)}: ${entries.length} files, plugin ${manifest.id} ${manifest.version}`);
}

try {
  main();
} catch (err) {
  console.error(`package-ccx: ${err.message}`);
  process.exitCode = 1;
}
