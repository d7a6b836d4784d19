/** Runs one downloadFile in its own process, so a test can kill it mid-transfer. argv[2]: JSON {file, options}. */
import { downloadFile, type DownloadOptions, type HubFile } from '../../companion/weights/download';

const { file, options } = JSON.parse(process.argv[2] ?? '{}') as { file: HubFile; options: DownloadOptions };
downloadFile(file, {
  ...options,
  onProgress: (received) => process.stdout.write(`RECEIVED ${received}\n`),
}).then(
  (p) => process.stdout.write(`DONE ${p}\n`),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
