import { TapegradError } from '@tapegrad/tensor';

/** A file that is not in the format it claims (IDX, safetensors): corrupted or truncated. */
export class FormatError extends TapegradError {
  override name = 'FormatError';
}
