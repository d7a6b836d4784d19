import { PROTOCOL_VERSION } from '../../protocol/version';

// 2: generate.params became the GenerationSpec (negativeStyle an image, `drop` a preset, no `teacher` flag).
test('protocol version is major.minor with major 2', () => {
  expect(PROTOCOL_VERSION).toMatch(/^2\.\d+$/);
});
