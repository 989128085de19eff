/**
 * Where tapegrad's warnings go: a call that works, as in PyTorch, but most likely not as its
 * author meant (a loss whose target broadcasts against its input). Each distinct message is
 * delivered once per process, as Python's default warning filter shows a warning once per call
 * site: a training loop does not repeat it every step.
 */
export type WarningHandler = (message: string) => void;

// Node's process warnings (printed on stderr as "TapegradWarning: ...", silenced by
// --no-warnings, observable through process.on('warning')); console.warn elsewhere.
const defaultHandler: WarningHandler = (message) => {
  const proc = (globalThis as { process?: { emitWarning?: (m: string, type: string) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message, 'TapegradWarning');
  else console.warn(`TapegradWarning: ${message}`);
};
let handler: WarningHandler = defaultHandler;
const seen = new Set<string>();

/** Emit `message` through the warning handler, unless this message was emitted before. */
export function warn(message: string): void {
  if (seen.has(message)) return;
  seen.add(message);
  handler(message);
}

/**
 * Send tapegrad's warnings to `h` (null: back to the default, Node's `process.emitWarning` or
 * `console.warn`). Returns the handler it replaces, so a caller can restore it. Tests use it to
 * capture warnings; an application may turn them into errors by throwing from `h`.
 */
export function setWarningHandler(h: WarningHandler | null): WarningHandler {
  const previous = handler;
  handler = h ?? defaultHandler;
  return previous;
}
