import { trainXor } from './train.js';

console.log('tapegrad: fitting a 2-8-1 MLP to XOR on the CPU');
trainXor({ log: console.log });
