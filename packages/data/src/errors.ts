import { TapegradError } from '@tapegrad/tensor';

/** A file that is not in the format it claims (IDX, safetensors): corrupted or truncated. */
export class FormatError extends TapegradError {
  /** 'FormatError', so messages and stack traces name the class. */
  override name = 'FormatError';
}
