import { nn, type Tensor } from 'tapegrad';

export type ModelName = 'mlp' | 'cnn';

/** The MLP 784-128-10 on flattened images. */
export function mlp(): nn.Module {
  return new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
}

/** Two 3x3 conv layers, each followed by ReLU and 2x2 max pooling, then a linear head. */
export class Cnn extends nn.Module {
  features = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 8 x 14 x 14
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 16 x 7 x 7
  );
  head = new nn.Linear(16 * 7 * 7, 10);
  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x).flatten(1));
  }
}

export function makeModel(name: ModelName): nn.Module {
  return name === 'mlp' ? mlp() : new Cnn();
}
