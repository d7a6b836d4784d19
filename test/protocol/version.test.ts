import { PROTOCOL_VERSION } from '../../protocol/version';

// 2: generate.params became the GenerationSpec (negativeStyle an image, `drop` a preset, no `teacher` flag).
// 2.1: style presets (presets.list, preset.save, preset.load, preset.delete; FrameKind.reference), which 2.0 panels never send.
test('protocol version is major.minor with major 2', () => {
  expect(PROTOCOL_VERSION).toMatch(/^2\.\d+$/);
});
