/**
 * tapegrad: the one import users write (`import * as tg from 'tapegrad'`). It re-exports the
 * tensor core and autograd and registers the CPU backend, which is the default device.
 */
import '@tapegrad/backend-cpu';

export * from '@tapegrad/tensor';
export { noGrad, enableGrad, isGradEnabled, gradcheck, GradcheckError, registerGradient, sumToShape, type GradientRule, type GradContext, type GradcheckOptions } from '@tapegrad/autograd';
