/// <reference lib="esnext.disposable" preserve="true" />
/**
 * The tensor core of tapegrad: `Tensor`, dtypes, shapes and broadcasting, the ops and their
 * shape inference, the op/kernel registry with its one `dispatch` path, the `Backend` interface,
 * random generators and memory scopes (`tidy`, `scope`, `memory`).
 * @packageDocumentation
 * @module @tapegrad/tensor
 */
export * from './errors.js';
export * from './warnings.js';
export * from './dtype.js';
export * from './shape.js';
export * from './backend.js';
export * from './registry.js';
export * from './memory.js';
export * from './poison.js';
export * from './random.js';
export { fastExp } from './fast-exp.js';
// issue 16 (nn helpers): console.log prints values
export { inspectCustom } from './format.js';
export { Tensor, Storage, installAutograd, autogradHooks, type AutogradHooks, type BackwardOptions, type GradFn, type NestedArray } from './tensor.js';
export { dispatch, run } from './dispatch.js';
export * from './creation.js';
export * from './ops/index.js';
// issue 19 (compiler): trace a function once, replay its kernels
export { compile, type Compiled, type CompiledStats, type CompileOptions, type GraphStats } from './compile/compile.js';
export { guardValue, notTraceable } from './compile/hooks.js';
export type { ReplayProgram, ReplayStep, ReplayContext, Replayer, SlotView } from './compile/replay.js';
export type { BackendFusion, FusionGroup, FusedNode, FusedArg, FusedRef } from './compile/fuse.js';
export { type CombinedGroup, type CombinedNode, type CombinedArg, type CombinedKind } from './compile/combine.js';
// issue 18: float16 and bfloat16 storage, its conversions
export * from './half.js';
// issue 18: autocast (mixed precision), its policy table
export { autocast, autocastActive, autocastOp, isAutocastEnabled, withoutAutocast, AUTOCAST_POLICY, type AutocastOptions, type AutocastPolicy } from './autocast.js';
