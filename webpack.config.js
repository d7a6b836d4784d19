// Builds the UXP panel into dist/plugin/ (load dist/plugin/manifest.json in the UXP Developer Tool) and,
// by name, the end-to-end test page into dist/e2e-page/ (the same panel over a canvas-backed fake host).
//
// dist/plugin/ also receives tsc's per-file output of plugin/ (the jest tests import it), so webpack
// never cleans the folder and the bundle is called panel.js, beside tsc's index.js; `npm run package`
// zips only the panel's own files (tools/package-ccx.js).
'use strict';
const path = require('node:path');
const CopyPlugin = require('copy-webpack-plugin');

const root = __dirname;

function tsRule() {
  return {
    test: /\.tsx?$/,
    exclude: /node_modules/,
    use: {
      loader: 'ts-loader',
      options: {
        configFile: path.join(root, 'tsconfig.plugin.json'),
        // tsc -b type-checks the project; the bundle only needs transpiling.
        transpileOnly: true,
        compilerOptions: { composite: false, declaration: false, incremental: false, module: 'es2020', sourceMap: true },
      },
    },
  };
}

/** Shared settings: one chunk, source maps in a separate file (UXP forbids eval, so no eval-* devtool). */
function base(name, entry, outDir, bundle) {
  return {
    name,
    mode: 'production',
    target: 'web',
    entry,
    devtool: 'source-map',
    output: { path: outDir, filename: bundle, clean: false },
    resolve: { extensions: ['.tsx', '.ts', '.js'] },
    module: { rules: [tsRule()] },
    optimization: { splitChunks: false, runtimeChunk: false, minimize: false },
    performance: { hints: false },
  };
}

const panel = {
  ...base('panel', path.join(root, 'plugin/index.tsx'), path.join(root, 'dist/plugin'), 'panel.js'),
  // Modules the UXP runtime supplies through its own require().
  externalsType: 'commonjs',
  externals: { photoshop: 'photoshop', uxp: 'uxp', fs: 'fs', os: 'os', path: 'path', process: 'process', shell: 'shell' },
  plugins: [
    new CopyPlugin({
      patterns: [
        { from: path.join(root, 'manifest.json'), to: 'manifest.json' },
        { from: path.join(root, 'plugin/index.html'), to: 'index.html' },
        { from: path.join(root, 'plugin/ui/styles.css'), to: 'styles.css' },
        { from: path.join(root, 'icons'), to: 'icons' },
      ],
    }),
  ],
};

const e2ePage = {
  ...base('e2e-page', path.join(root, 'test/plugin/e2e-page/main.tsx'), path.join(root, 'dist/e2e-page'), 'page.js'),
  plugins: [
    new CopyPlugin({
      patterns: [
        { from: path.join(root, 'test/plugin/e2e-page/index.html'), to: 'index.html' },
        { from: path.join(root, 'plugin/ui/styles.css'), to: 'styles.css' },
      ],
    }),
  ],
};

module.exports = [panel, e2ePage];
